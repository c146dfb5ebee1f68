//! `[schedule] timezone`: an IANA zone name, parsed when the settings are read.

use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The zone schedules are read in; a name chrono-tz does not know is refused
/// with the key it came from (`check-config` lists it, exit code 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone(Tz);

impl Zone {
    pub fn tz(self) -> Tz {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self(Tz::Asia__Ho_Chi_Minh)
    }
}

impl FromStr for Zone {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Tz::from_str(name.trim())
            .map(Zone)
            .map_err(|_| format!("\"{name}\" is not an IANA time zone, e.g. \"Asia/Ho_Chi_Minh\""))
    }
}

impl TryFrom<String> for Zone {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

impl From<Zone> for String {
    fn from(zone: Zone) -> Self {
        zone.name().to_string()
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_vietnamese_time_and_unknown_names_are_refused() {
        assert_eq!(Zone::default().name(), "Asia/Ho_Chi_Minh");
        assert_eq!(
            "Europe/Paris".parse::<Zone>().map(Zone::name),
            Ok("Europe/Paris")
        );
        let err = "Asia/Hanoi_City".parse::<Zone>().expect_err("unknown zone");
        assert_eq!(
            err,
            "\"Asia/Hanoi_City\" is not an IANA time zone, e.g. \"Asia/Ho_Chi_Minh\""
        );
    }
}
