/*!
Facts about the machine a ledger is written on, recorded in its genesis and session records.
*/

pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

pub fn os_user() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(unix_user_name)
}

#[cfg(unix)]
fn unix_user_name() -> Option<String> {
    // Hook processes may run with a scrubbed environment; fall back to the uid.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .ok()
        .map(|m| format!("uid:{}", m.uid()))
}

#[cfg(not(unix))]
fn unix_user_name() -> Option<String> {
    None
}
