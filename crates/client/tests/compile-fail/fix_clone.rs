// A location fix has no Clone: there is only ever one copy, consumed by the zone test.
use minimis_client::location::Fix;

fn keep(fix: &Fix) -> Fix {
    fix.clone()
}

fn main() {}
