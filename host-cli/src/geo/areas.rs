//! Where countries are: circles covering each country's territory (`data/country-areas.tsv`,
//! derived from Natural Earth), and the distances the RTT check needs.

use serde::Serialize;
use std::collections::HashMap;

/// Light in optical fibre covers about 200 km per millisecond (2/3 of c).
pub const FIBRE_KM_PER_MS: f64 = 200.0;
/// Mean Earth radius in km (IUGG).
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The built-in country circles.
const COUNTRY_AREAS: &str = include_str!("../../data/country-areas.tsv");

/// A point on Earth, degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coord {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

/// A spherical cap that covers part of a country.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    /// Centre.
    pub centre: Coord,
    /// Radius, km.
    pub radius_km: f64,
}

/// Errors in a country-areas table.
#[derive(Debug, thiserror::Error)]
#[error("country areas, line {line}: {message}")]
pub struct AreasError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Circles per country: together they cover all of its territory.
#[derive(Debug, Clone, Default)]
pub struct Areas {
    circles: HashMap<String, Vec<Circle>>,
}

impl Areas {
    /// The built-in table (Natural Earth 1:10m, see `data/README.md`).
    pub fn builtin() -> Result<Self, AreasError> {
        Self::parse(COUNTRY_AREAS)
    }

    /// Parses `alpha2 \t lat \t lon \t radius_km` lines; `#` comments and the header skipped.
    pub fn parse(text: &str) -> Result<Self, AreasError> {
        let mut circles: HashMap<String, Vec<Circle>> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') || line.starts_with("alpha2\t") {
                continue;
            }
            let err = |message: String| AreasError {
                line: i + 1,
                message,
            };
            let f: Vec<&str> = line.split('\t').collect();
            let [code, lat, lon, r] = f[..] else {
                return Err(err(format!("expected 4 fields, found {}", f.len())));
            };
            let num = |s: &str| {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| err(format!("{s:?} is not a number")))
            };
            let centre = Coord {
                lat: num(lat)?,
                lon: num(lon)?,
            };
            if !centre.is_valid() {
                return Err(err(format!("{lat},{lon} is not a coordinate")));
            }
            circles.entry(code.to_owned()).or_default().push(Circle {
                centre,
                radius_km: num(r)?.max(0.0),
            });
        }
        Ok(Areas { circles })
    }

    /// A table from explicit circles (tests).
    #[cfg(test)]
    pub fn from_circles(list: &[(&str, f64, f64, f64)]) -> Self {
        let mut circles: HashMap<String, Vec<Circle>> = HashMap::new();
        for &(code, lat, lon, radius_km) in list {
            circles.entry(code.to_owned()).or_default().push(Circle {
                centre: Coord { lat, lon },
                radius_km,
            });
        }
        Areas { circles }
    }

    /// A lower bound of the distance from `from` to any point of `country`: 0 inside it,
    /// `None` when the country is not in the table.
    pub fn min_distance_km(&self, from: Coord, country: &str) -> Option<f64> {
        self.circles.get(country).map(|cs| {
            cs.iter()
                .map(|c| (great_circle_km(from, c.centre) - c.radius_km).max(0.0))
                .fold(f64::INFINITY, f64::min)
        })
    }

    /// Number of countries in the table.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.circles.len()
    }
}

impl Coord {
    /// Whether the latitude and longitude are in range.
    pub fn is_valid(&self) -> bool {
        (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lon)
    }
}

/// Great-circle distance (haversine).
pub fn great_circle_km(a: Coord, b: Coord) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// How far from the vantage node a hop can be, given its minimum RTT: light in fibre
/// during half the round trip.
pub fn max_reach_km(min_rtt_ms: f64) -> f64 {
    min_rtt_ms.max(0.0) / 2.0 * FIBRE_KM_PER_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: Coord = Coord {
        lat: 51.5074,
        lon: -0.1278,
    };

    #[test]
    fn builtin_table_covers_every_m49_country() {
        let areas = Areas::builtin().unwrap();
        let regions = crate::analysis::regions::Regions::builtin().unwrap();
        let missing: Vec<&str> = regions
            .codes()
            .filter(|c| areas.min_distance_km(LONDON, c).is_none())
            .collect();
        // Only Antarctica's remote claims and uninhabited specks without Natural Earth
        // polygons of their own are allowed to be missing.
        assert!(missing.len() <= 3, "missing: {missing:?}");
        assert!(areas.len() >= 240, "{}", areas.len());
    }

    #[test]
    fn distances_are_lower_bounds_to_the_territory() {
        let areas = Areas::builtin().unwrap();
        // Inside: London is in GB.
        assert_eq!(areas.min_distance_km(LONDON, "GB"), Some(0.0));
        // Seattle is in the US although far from its centre.
        let seattle = Coord {
            lat: 47.6062,
            lon: -122.3321,
        };
        assert_eq!(areas.min_distance_km(seattle, "US"), Some(0.0));
        // Sydney from London: beyond 15,000 km, but the bound may not exceed the truth.
        let d = areas.min_distance_km(LONDON, "AU").unwrap();
        assert!((12_000.0..17_000.0).contains(&d), "{d}");
        // Honolulu counts for the US: from Tokyo, the US is nearer than its mainland.
        let tokyo = Coord {
            lat: 35.68,
            lon: 139.69,
        };
        assert!(areas.min_distance_km(tokyo, "US").unwrap() < 4_000.0);
        assert_eq!(areas.min_distance_km(LONDON, "ZZ"), None);
    }

    #[test]
    fn reach_is_half_the_rtt_at_fibre_speed() {
        assert_eq!(max_reach_km(10.0), 1000.0);
        assert_eq!(max_reach_km(-1.0), 0.0);
        let ny = Coord {
            lat: 40.7128,
            lon: -74.0060,
        };
        let d = great_circle_km(LONDON, ny);
        assert!((d - 5570.0).abs() < 15.0, "{d}");
    }

    #[test]
    fn bad_lines_are_errors_with_line_numbers() {
        let err = Areas::parse("# c\nGB\t51\t0\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = Areas::parse("GB\t91\t0\t10\n").unwrap_err();
        assert!(err.message.contains("not a coordinate"), "{err}");
        let err = Areas::parse("GB\tx\t0\t10\n").unwrap_err();
        assert!(err.message.contains("not a number"), "{err}");
    }
}
