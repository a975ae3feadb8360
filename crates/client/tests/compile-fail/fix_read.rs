// A location fix's coordinates cannot be read outside the zone test.
use minimis_client::location::Fix;

fn latitude(fix: &Fix) -> f64 {
    fix.latitude
}

fn main() {}
