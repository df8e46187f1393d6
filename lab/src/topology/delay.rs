//! Link delays from geography: light in fibre covers about 2/3 c.

use super::model::City;

/// Mean Earth radius in km (IUGG).
const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Speed of light in fibre, km per millisecond (2/3 of c).
pub const FIBRE_KM_PER_MS: f64 = 299_792.458 / 1000.0 * 2.0 / 3.0;

/// Great-circle distance between two cities (haversine).
pub fn great_circle_km(a: &City, b: &City) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// One-way delay of a fibre link laid along the great circle between two cities.
pub fn one_way_delay_ms(a: &City, b: &City) -> f64 {
    great_circle_km(a, b) / FIBRE_KM_PER_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city(lat: f64, lon: f64) -> City {
        City {
            name: String::new(),
            lat,
            lon,
        }
    }

    #[test]
    fn london_to_new_york_is_about_5570_km() {
        let d = great_circle_km(&city(51.5074, -0.1278), &city(40.7128, -74.0060));
        assert!((d - 5570.0).abs() < 15.0, "{d}");
    }

    #[test]
    fn delay_is_distance_over_two_thirds_c() {
        let a = city(0.0, 0.0);
        let b = city(0.0, 90.0); // a quarter of the equator
        let km = great_circle_km(&a, &b);
        assert!((km - 10_007.5).abs() < 1.0, "{km}");
        let ms = one_way_delay_ms(&a, &b);
        assert!((ms - km / 199.86).abs() < 0.01, "{ms}");
    }

    #[test]
    fn same_place_has_no_delay() {
        assert_eq!(
            one_way_delay_ms(&city(47.37, 8.54), &city(47.37, 8.54)),
            0.0
        );
    }
}
