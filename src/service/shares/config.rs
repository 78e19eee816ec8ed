//! The limits the server forces on every share, each with the reason for
//! its default.

/// Default lifetime of a share: one day, long enough to reach someone in
/// another time zone, short enough that a forgotten link dies soon.
pub const DEFAULT_EXPIRY: u64 = 24 * 3600;

/// Default longest lifetime a share may ask for: 30 days.
pub const DEFAULT_MAX_EXPIRY: u64 = 30 * 24 * 3600;

/// Default downloads of a share: one (a link meant for one receiver that
/// leaks is then useless to whoever finds it).
pub const DEFAULT_DOWNLOADS: u64 = 1;

/// Default most downloads a share may ask for: 100.
pub const DEFAULT_MAX_DOWNLOADS: u64 = 100;

/// Default shares one user may create per hour: 60, a link a minute, far
/// above a person's needs and far below what a stolen session could use
/// to turn the server into a file host.
pub const DEFAULT_CREATES_PER_HOUR: u64 = 60;

/// How long an ended share answers "expired", "consumed" or "revoked"
/// (HTTP 410) before its row goes and the link answers 404: 7 days. At
/// least an hour, so the per-hour count of creates sees every row.
pub const DEFAULT_TOMBSTONE: u64 = 7 * 24 * 3600;

/// Default most bytes one upload link takes in: 1 GiB, a folder of
/// photos or a few videos; more only when the operator says so.
pub const DEFAULT_UPLOAD_MAX_BYTES: u64 = 1 << 30;

/// Default most files one upload link takes in: 100.
pub const DEFAULT_UPLOAD_MAX_FILES: u64 = 100;

/// Default uploads one client address may run at once through upload
/// links: 4, enough for a browser's parallel drops.
pub const DEFAULT_UPLOADS_PER_IP: u32 = 4;

/// Default upload requests (a begin or a send) one client address may
/// make through upload links per minute: 120.
pub const DEFAULT_UPLOAD_RATE: u32 = 120;

/// Default uploads running at once through all upload links: 64. Each
/// holds about one chunk (1 MiB) of memory and a hasher.
pub const DEFAULT_UPLOADS_TOTAL: u32 = 64;

/// The shares service's limits; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharesConfig {
    /// Lifetime of a share that asks for none, in seconds.
    pub default_expiry: u64,
    /// Longest lifetime a share may ask for, in seconds.
    pub max_expiry: u64,
    /// Downloads of a share that asks for no number.
    pub default_downloads: u64,
    /// Most downloads a share may ask for.
    pub max_downloads: u64,
    /// Shares one user may create in any hour.
    pub creates_per_hour: u64,
    /// Seconds an ended share keeps answering 410.
    pub tombstone: u64,
    /// Most bytes an upload link may take in (and what one that asks for
    /// no `--max-size` gets).
    pub upload_max_bytes: u64,
    /// Most files an upload link may take in (and its default).
    pub upload_max_files: u64,
    /// Uploads one client address may run at once through upload links.
    pub uploads_per_ip: u32,
    /// Upload requests one client address may make per minute.
    pub upload_rate_per_ip: u32,
    /// Uploads running at once through all upload links.
    pub uploads_total: u32,
}

impl Default for SharesConfig {
    fn default() -> Self {
        SharesConfig {
            default_expiry: DEFAULT_EXPIRY,
            max_expiry: DEFAULT_MAX_EXPIRY,
            default_downloads: DEFAULT_DOWNLOADS,
            max_downloads: DEFAULT_MAX_DOWNLOADS,
            creates_per_hour: DEFAULT_CREATES_PER_HOUR,
            tombstone: DEFAULT_TOMBSTONE,
            upload_max_bytes: DEFAULT_UPLOAD_MAX_BYTES,
            upload_max_files: DEFAULT_UPLOAD_MAX_FILES,
            uploads_per_ip: DEFAULT_UPLOADS_PER_IP,
            upload_rate_per_ip: DEFAULT_UPLOAD_RATE,
            uploads_total: DEFAULT_UPLOADS_TOTAL,
        }
    }
}

impl SharesConfig {
    /// The configuration with its defaults clamped under its maxima and
    /// the tombstone at least an hour.
    pub fn normalized(mut self) -> Self {
        self.max_expiry = self.max_expiry.max(1);
        self.max_downloads = self.max_downloads.max(1);
        self.default_expiry = self.default_expiry.clamp(1, self.max_expiry);
        self.default_downloads = self.default_downloads.clamp(1, self.max_downloads);
        self.tombstone = self.tombstone.max(3600);
        self.upload_max_files = self.upload_max_files.max(1);
        self.uploads_per_ip = self.uploads_per_ip.max(1);
        self.upload_rate_per_ip = self.upload_rate_per_ip.max(1);
        self.uploads_total = self.uploads_total.max(1);
        self
    }
}

/// Parses a duration as people write it for `--expires` and the serve
/// flags: `90` or `90s`, `30m`, `12h`, `3d`, `2w`; into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        "w" => 7 * 24 * 3600,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit; write e.g. 90s, 30m, 12h, 3d or 2w"
            ));
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 3d or 12h"))?;
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?}: out of range"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_people_write() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("3d"), Ok(3 * 86400));
        assert_eq!(parse_duration("2W"), Ok(14 * 86400));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("").is_err());
    }
}
