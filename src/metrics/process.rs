//! The standard `process_*` metrics, read from `/proc/self` on Linux at each
//! scrape (a few small reads); other systems expose none.

use super::exposition::{Exposition, Kind};

/// What one scrape read; a field the system would not tell stays `None`.
#[derive(Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    #[cfg(target_os = "linux")]
    pub fn read() -> ProcessStats {
        linux::read()
    }

    #[cfg(not(target_os = "linux"))]
    pub fn read() -> ProcessStats {
        ProcessStats::default()
    }

    /// Writes the families that have a value.
    pub fn render(&self, out: &mut Exposition) {
        let families: [(&str, Kind, &str, Option<f64>); 6] = [
            (
                "process_cpu_seconds_total",
                Kind::Counter,
                "Total user and system CPU time spent in seconds.",
                self.cpu_seconds,
            ),
            (
                "process_resident_memory_bytes",
                Kind::Gauge,
                "Resident memory size in bytes.",
                self.resident_memory_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                Kind::Gauge,
                "Virtual memory size in bytes.",
                self.virtual_memory_bytes.map(|v| v as f64),
            ),
            ("process_open_fds", Kind::Gauge, "Number of open file descriptors.", self.open_fds.map(|v| v as f64)),
            (
                "process_max_fds",
                Kind::Gauge,
                "Maximum number of open file descriptors.",
                self.max_fds.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since unix epoch in seconds.",
                self.start_time_seconds,
            ),
        ];
        for (name, kind, help, value) in families {
            if let Some(value) = value {
                out.family(name, kind, help).sample(&[], value);
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::ProcessStats;

    /// Clock ticks per second in `/proc` figures: the kernel's USER_HZ, 100 on
    /// every architecture Linux runs on today (Prometheus' Go client assumes it too).
    const USER_HZ: f64 = 100.0;

    pub fn read() -> ProcessStats {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let stat = stat.as_deref().map(parse_stat).unwrap_or_default();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| boot_time(&s));
        ProcessStats {
            cpu_seconds: stat.cpu_ticks.map(|t| t as f64 / USER_HZ),
            resident_memory_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024),
            virtual_memory_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024),
            open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64),
            max_fds: std::fs::read_to_string("/proc/self/limits").ok().and_then(|s| max_open_files(&s)),
            start_time_seconds: boot_time
                .zip(stat.start_ticks)
                .map(|(boot, ticks)| boot as f64 + ticks as f64 / USER_HZ),
        }
    }

    #[derive(Default)]
    struct Stat {
        cpu_ticks: Option<u64>,
        start_ticks: Option<u64>,
    }

    /// `/proc/self/stat`: after the command name in parentheses (which may hold
    /// spaces), field 3 (state) onwards; utime and stime are fields 14 and 15,
    /// starttime field 22 (ticks after boot).
    fn parse_stat(stat: &str) -> Stat {
        let Some((_, rest)) = stat.rsplit_once(')') else { return Stat::default() };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        Stat { cpu_ticks: field(14).zip(field(15)).map(|(u, s)| u + s), start_ticks: field(22) }
    }

    /// A `Key:   123 kB` line of `/proc/self/status`.
    fn status_kib(status: &str, key: &str) -> Option<u64> {
        status.lines().find_map(|l| l.strip_prefix(key))?.split_whitespace().next()?.parse().ok()
    }

    /// `btime` of `/proc/stat`: boot time in seconds since the epoch.
    fn boot_time(stat: &str) -> Option<u64> {
        stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()
    }

    /// The soft limit of `Max open files` in `/proc/self/limits`.
    fn max_open_files(limits: &str) -> Option<u64> {
        limits.lines().find_map(|l| l.strip_prefix("Max open files"))?.split_whitespace().next()?.parse().ok()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parses_proc_files() {
            let s = parse_stat("42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 12345 1000 200 rest");
            assert_eq!((s.cpu_ticks, s.start_ticks), (Some(300), Some(12345)));
            assert_eq!(status_kib("Name:\tx\nVmSize:\t  2048 kB\nVmRSS:\t 512 kB\n", "VmRSS:"), Some(512));
            assert_eq!(boot_time("cpu 1 2\nbtime 1700000000\nprocesses 5\n"), Some(1_700_000_000));
            let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
            assert_eq!(max_open_files(limits), Some(1024));
        }

        #[test]
        fn reads_this_process() {
            let stats = read();
            assert!(stats.resident_memory_bytes.unwrap() > 0);
            assert!(stats.open_fds.unwrap() > 0);
            assert!(stats.max_fds.unwrap() > 0);
            assert!(stats.start_time_seconds.unwrap() > 1_000_000_000.0);
            assert!(stats.cpu_seconds.is_some());
        }
    }
}
