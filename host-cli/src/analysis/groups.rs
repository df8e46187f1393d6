//! Interest groups (Five Eyes, EU, Arab League, Russia, China, or any set of countries) as
//! YAML, with built-in presets: `default` (current membership) and `paper-2015` (the seed
//! paper's lists, for comparison with its tables).

use super::regions::{is_country_code, Regions};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeSet;

/// The current membership.
const DEFAULT: &str = include_str!("../../data/groups-default.yaml");
/// The seed paper's lists.
const PAPER_2015: &str = include_str!("../../data/groups-paper-2015.yaml");

/// Names of the built-in presets.
pub const PRESETS: [&str; 2] = ["default", "paper-2015"];

/// Whether a measurement whose own endpoint lies in a group counts for that group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointRule {
    /// Left out of the group's row: the group sees that traffic at the endpoint anyway.
    #[default]
    Exclude,
    /// Kept, and counted as accessible.
    Count,
}

/// One interest group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterestGroup {
    /// Its name, as shown in the tables.
    pub name: String,
    /// ISO 3166-1 alpha-2 codes of its members.
    pub members: BTreeSet<String>,
}

/// A set of interest groups and the endpoint rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Groups {
    /// Where the groups came from: a preset's name or a file.
    pub origin: String,
    /// How measurements with an endpoint in a group count.
    pub endpoints: EndpointRule,
    /// The groups, in file order.
    pub groups: Vec<InterestGroup>,
}

/// An interest-group file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct GroupsError {
    /// File (or preset) name.
    pub file: String,
    /// Line and column, when known.
    pub position: Option<(u64, u64)>,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFile {
    #[serde(default)]
    endpoints: EndpointRule,
    groups: Vec<GroupDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupDef {
    name: Spanned<String>,
    members: Vec<Spanned<String>>,
}

impl Groups {
    /// A built-in preset by name.
    pub fn preset(name: &str, regions: &Regions) -> Option<Result<Self, GroupsError>> {
        let text = match name {
            "default" => DEFAULT,
            "paper-2015" => PAPER_2015,
            _ => return None,
        };
        Some(Self::parse(text, &format!("preset {name}"), regions))
    }

    /// A preset name, or the path of a YAML file.
    pub fn load(spec: &str, regions: &Regions) -> Result<Self, GroupsError> {
        if let Some(preset) = Self::preset(spec, regions) {
            return preset;
        }
        let text = std::fs::read_to_string(spec).map_err(|e| GroupsError {
            file: spec.to_owned(),
            position: None,
            message: format!(
                "cannot read the interest-group file ({e}); presets are {}",
                PRESETS.join(", ")
            ),
        })?;
        Self::parse(&text, spec, regions)
    }

    /// Parses a groups file; every member must be a country of the M49 table.
    pub fn parse(text: &str, file: &str, regions: &Regions) -> Result<Self, GroupsError> {
        let err = |position: Option<(u64, u64)>, message: String| GroupsError {
            file: file.to_owned(),
            position,
            message,
        };
        let raw: GroupsFile = serde_saphyr::from_str(text).map_err(|e| {
            let msg = e.to_string();
            err(
                e.location().map(|l| (l.line(), l.column())),
                msg.lines().next().unwrap_or_default().trim().to_owned(),
            )
        })?;
        let mut groups: Vec<InterestGroup> = Vec::new();
        for g in raw.groups {
            let at = |s: &Spanned<String>| Some((s.referenced.line(), s.referenced.column()));
            let name = g.name.value.trim().to_owned();
            if name.is_empty() {
                return Err(err(at(&g.name), "a group needs a name".into()));
            }
            if groups.iter().any(|x| x.name == name) {
                return Err(err(at(&g.name), format!("group {name:?} is defined twice")));
            }
            let mut members = BTreeSet::new();
            for m in &g.members {
                if !is_country_code(&m.value) || regions.get(&m.value).is_none() {
                    return Err(err(
                        at(m),
                        format!(
                            "{:?} in group {name:?} is not an ISO 3166-1 alpha-2 country code",
                            m.value
                        ),
                    ));
                }
                if !members.insert(m.value.clone()) {
                    return Err(err(
                        at(m),
                        format!("{} is listed twice in group {name:?}", m.value),
                    ));
                }
            }
            groups.push(InterestGroup { name, members });
        }
        Ok(Groups {
            origin: file.to_owned(),
            endpoints: raw.endpoints,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Regions {
        Regions::builtin().unwrap()
    }

    fn members(g: &Groups, name: &str) -> Vec<String> {
        let group = g.groups.iter().find(|x| x.name == name).unwrap();
        group.members.iter().cloned().collect()
    }

    #[test]
    fn default_preset_has_current_membership() {
        let g = Groups::preset("default", &regions()).unwrap().unwrap();
        assert_eq!(g.endpoints, EndpointRule::Exclude);
        assert_eq!(members(&g, "Five Eyes"), ["AU", "CA", "GB", "NZ", "US"]);
        let eu = members(&g, "EU");
        assert_eq!(eu.len(), 27);
        assert!(!eu.contains(&"GB".to_owned()));
        assert_eq!(members(&g, "Arab League").len(), 22);
        assert_eq!(members(&g, "Russia"), ["RU"]);
        assert!(members(&g, "China").contains(&"CN".to_owned()));
    }

    #[test]
    fn paper_preset_reproduces_the_seed_lists() {
        let g = Groups::preset("paper-2015", &regions()).unwrap().unwrap();
        assert_eq!(members(&g, "Five Eyes"), ["AU", "CA", "GB", "US"]);
        let eu = members(&g, "EU");
        assert_eq!(eu.len(), 28);
        assert!(eu.contains(&"GB".to_owned()));
        assert_eq!(members(&g, "China"), ["CN"]);
        let names: Vec<&str> = g.groups.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["Five Eyes", "EU", "Arab League", "Russia", "China"]);
    }

    #[test]
    fn errors_point_at_the_line() {
        let e = Groups::parse(
            "groups:\n  - name: X\n    members: [DE, ZZ]\n",
            "g.yaml",
            &regions(),
        )
        .unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        assert!(e.to_string().starts_with("g.yaml:3:"), "{e}");
        let e = Groups::parse("groups: []\ncolour: red\n", "g.yaml", &regions()).unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
        let e = Groups::parse(
            "endpoints: count\ngroups:\n  - {name: A, members: [DE]}\n  - {name: A, members: [FR]}\n",
            "g.yaml",
            &regions(),
        )
        .unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
    }

    #[test]
    fn a_missing_file_names_the_presets() {
        let e = Groups::load("/nonexistent/groups.yaml", &regions()).unwrap_err();
        assert!(e.message.contains("paper-2015"), "{e}");
    }
}
