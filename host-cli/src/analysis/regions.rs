//! UN M49 regions and subregions of every country (`data/m49.tsv`, from the UN Statistics
//! Division's M49 standard).

use std::collections::BTreeMap;

/// The built-in M49 table.
const M49: &str = include_str!("../../data/m49.tsv");

/// Where a country is, in M49 terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryInfo {
    /// English short name.
    pub name: String,
    /// Region (`Europe`, `Americas`, …); empty for Antarctica, which has none.
    pub region: String,
    /// Subregion (`Western Europe`, `Latin America and the Caribbean`, …).
    pub subregion: String,
    /// Intermediate region (`South America`, `Caribbean`, …), often empty.
    pub intermediate: String,
}

/// Errors in an M49 table.
#[derive(Debug, thiserror::Error)]
#[error("M49 table, line {line}: {message}")]
pub struct RegionsError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Country code → M49 regions.
#[derive(Debug, Clone, Default)]
pub struct Regions {
    countries: BTreeMap<String, CountryInfo>,
}

impl Regions {
    /// The built-in table.
    pub fn builtin() -> Result<Self, RegionsError> {
        Self::parse(M49)
    }

    /// Parses `alpha2 alpha3 m49 name region subregion intermediate` tab-separated lines.
    pub fn parse(text: &str) -> Result<Self, RegionsError> {
        let mut countries = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') || line.starts_with("alpha2\t") {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let [code, _a3, _num, name, region, subregion, intermediate] = f[..] else {
                return Err(RegionsError {
                    line: i + 1,
                    message: format!("expected 7 fields, found {}", f.len()),
                });
            };
            if !is_country_code(code) {
                return Err(RegionsError {
                    line: i + 1,
                    message: format!("{code:?} is not an ISO 3166-1 alpha-2 code"),
                });
            }
            countries.insert(
                code.to_owned(),
                CountryInfo {
                    name: name.to_owned(),
                    region: region.to_owned(),
                    subregion: subregion.to_owned(),
                    intermediate: intermediate.to_owned(),
                },
            );
        }
        Ok(Regions { countries })
    }

    /// A country's entry.
    pub fn get(&self, code: &str) -> Option<&CountryInfo> {
        self.countries.get(code)
    }

    /// A country's region, `None` when unknown or without one.
    pub fn region(&self, code: &str) -> Option<&str> {
        self.get(code)
            .map(|c| c.region.as_str())
            .filter(|r| !r.is_empty())
    }

    /// A country's subregion, `None` when unknown or without one.
    pub fn subregion(&self, code: &str) -> Option<&str> {
        self.get(code)
            .map(|c| c.subregion.as_str())
            .filter(|r| !r.is_empty())
    }

    /// Every country code, sorted.
    #[cfg(test)]
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.countries.keys().map(String::as_str)
    }
}

/// Whether `code` is two ASCII uppercase letters.
pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_every_country_with_its_region() {
        let r = Regions::builtin().unwrap();
        assert_eq!(r.codes().count(), 249);
        assert_eq!(r.region("DE"), Some("Europe"));
        assert_eq!(r.subregion("DE"), Some("Western Europe"));
        assert_eq!(r.subregion("GB"), Some("Northern Europe"));
        assert_eq!(r.region("US"), Some("Americas"));
        assert_eq!(r.subregion("US"), Some("Northern America"));
        assert_eq!(r.subregion("BR"), Some("Latin America and the Caribbean"));
        assert_eq!(r.get("BR").unwrap().intermediate, "South America");
        assert_eq!(r.region("IL"), Some("Asia"));
        assert_eq!(r.subregion("IL"), Some("Western Asia"));
        assert_eq!(r.subregion("NZ"), Some("Australia and New Zealand"));
        assert_eq!(r.region("XK"), Some("Europe"));
        // Antarctica is in no region.
        assert!(r.get("AQ").is_some());
        assert_eq!(r.region("AQ"), None);
        assert_eq!(r.region("EU"), None);
        // Every other country has both a region and a subregion.
        for code in r.codes().filter(|c| *c != "AQ") {
            assert!(r.region(code).is_some(), "{code}");
            assert!(r.subregion(code).is_some(), "{code}");
        }
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = Regions::parse("alpha2\tx\nde\tDEU\t276\tGermany\tEurope\tWestern Europe\t\n")
            .unwrap_err();
        assert_eq!(err.line, 2);
        let err = Regions::parse("DE\tDEU\n").unwrap_err();
        assert!(err.message.contains("7 fields"), "{err}");
    }
}
