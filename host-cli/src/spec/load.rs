//! Reading spec files from disk: an app, an inventory, a campaign with the inventory, the
//! app files and the pipeline policy it names, all checked together.

use super::app::{parse_app, AppSpec};
use super::campaign::{AppSource, Campaign, CampaignFile};
use super::error::SpecError;
use super::inventory::Inventory;
use super::inventory_file::parse_inventory;
use matador_pipeline::{Pipeline, Policy, PolicyError};
use std::path::{Path, PathBuf};

/// Largest spec file read: specs are hand-written, a bigger one is a mistake.
const MAX_SPEC_FILE: u64 = 4 * 1024 * 1024;

/// A campaign with its inventory and apps (in campaign order), checked together.
#[derive(Debug, Clone)]
pub struct LoadedCampaign {
    /// The campaign.
    pub campaign: Campaign,
    /// The inventory it runs on.
    pub inventory: Inventory,
    /// Its apps, in the order they run.
    pub apps: Vec<AppSpec>,
    /// The pipeline policy the campaign names (`policy:`), read and checked.
    pub policy: Option<Policy>,
}

/// Reads a spec file as text, refusing huge ones.
fn read(path: &Path) -> Result<String, SpecError> {
    let file = path.display().to_string();
    let cannot = |e: std::io::Error| SpecError::whole(&file, format!("cannot read: {e}"));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.len() > MAX_SPEC_FILE {
        return Err(SpecError::whole(
            &file,
            format!("larger than {MAX_SPEC_FILE} bytes"),
        ));
    }
    std::fs::read_to_string(path).map_err(cannot)
}

/// The folder relative paths in a file are taken from.
fn folder(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Reads and checks one app spec file.
pub fn load_app(path: &Path) -> Result<AppSpec, SpecError> {
    parse_app(&read(path)?, &path.display().to_string())
}

/// Reads and checks an inventory file.
pub fn load_inventory(path: &Path) -> Result<Inventory, SpecError> {
    parse_inventory(&read(path)?, &path.display().to_string(), &folder(path))
}

/// Reads a campaign, the inventory (`inventory` overrides the one the campaign names) and
/// the app files it names, and checks them together. `region_of` gives the region of a
/// country for vantage nodes that do not state theirs (e.g. the UN M49 table).
pub fn load_campaign(
    path: &Path,
    inventory: Option<&Path>,
    region_of: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedCampaign, SpecError> {
    let file = path.display().to_string();
    let base = folder(path);
    parse_campaign(&read(path)?, &file, &base, inventory, region_of)
}

/// As [`load_campaign`], from the campaign's text; `file` names it, `base` is its folder.
pub fn parse_campaign(
    text: &str,
    file: &str,
    base: &Path,
    inventory: Option<&Path>,
    region_of: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedCampaign, SpecError> {
    let mut raw: CampaignFile =
        serde_saphyr::from_str(text).map_err(|e| SpecError::yaml(file, &e))?;
    let (inline, sources) = raw.take_apps(file, base)?;
    let mut apps = Vec::new();
    for (source, place) in sources {
        match source {
            AppSource::Inline(i) => apps.push(inline[i].clone()),
            AppSource::File(p) => {
                let app = load_app(&p).map_err(|e| match e.position {
                    // The app file's own errors point into it; a missing file, at the campaign.
                    Some(_) => e,
                    None => SpecError::at(file, place, e.to_string()),
                })?;
                apps.push(app);
            }
        }
    }
    let campaign = raw.check(file, base, &apps)?;
    let inventory_path = match (inventory, &campaign.inventory) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(SpecError::whole(
                file,
                "no inventory: name one with `inventory:` or on the command line",
            ))
        }
    };
    let mut inv = load_inventory(&inventory_path)?;
    inv.fill_regions(region_of);
    raw.check_against(file, &inv, &apps)?;
    let policy = match (&campaign.policy, raw.policy_place()) {
        (Some(path), Some(place)) => Some(load_policy(path, file, place)?),
        _ => None,
    };
    Ok(LoadedCampaign {
        campaign,
        inventory: inv,
        apps,
        policy,
    })
}

/// Reads and checks a campaign's pipeline policy. A file that cannot be read is an error at
/// the campaign's `policy:`; a mistake inside it, at its own line and column.
fn load_policy(path: &Path, file: &str, place: (u64, u64)) -> Result<Policy, SpecError> {
    let text = read(path).map_err(|e| SpecError::at(file, place, format!("policy: {e}")))?;
    let from = |e: PolicyError| SpecError {
        file: e.file,
        position: e.position,
        message: format!("pipeline policy: {}", e.message),
    };
    let policy = Policy::parse(&text, &path.display().to_string()).map_err(from)?;
    // Some mistakes (an unknown blocking category, a bad extra tracker domain) only show when
    // the plugins are built: build them once now, not after the first measurement.
    Pipeline::new(policy.clone()).map_err(from)?;
    Ok(policy)
}
