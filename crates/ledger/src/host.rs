/*!
Facts about the machine a ledger is written on, recorded in its genesis and session records.
*/

pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The account this process runs as, from the password database (`getpwuid_r`), not from
/// `$USER`: a hook may run with a scrubbed or forged environment, and the auditor's question
/// is which account ran the agent. Only when the database has no entry for the uid does it fall
/// back to the environment, and then to `uid:N`.
pub fn os_user() -> Option<String> {
    if let Some(account) = os_account() {
        return Some(account.name);
    }
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(uid_label)
}

/// An entry of the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsAccount {
    pub name: String,
    pub uid: u32,
    /// The GECOS field's first comma-separated part (the full name), when not empty.
    pub gecos: Option<String>,
}

/// The password-database entry of this process's real uid; `None` when there is none (a
/// container's arbitrary uid) or off Unix.
#[cfg(unix)]
pub fn os_account() -> Option<OsAccount> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    account_of(uid)
}

#[cfg(not(unix))]
pub fn os_account() -> Option<OsAccount> {
    None
}

#[cfg(unix)]
fn account_of(uid: libc::uid_t) -> Option<OsAccount> {
    use std::ffi::CStr;
    // Entries are small; a buffer that is still too small after growing is a broken database.
    let mut size = 1024usize;
    while size <= 1 << 20 {
        let mut buffer = vec![0 as libc::c_char; size];
        // SAFETY: zeroed `passwd` is a valid value of a plain C struct; it is only read after
        // getpwuid_r reported success through `result`.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `entry` and `result` are live locals,
        // `buffer` is `size` bytes long and outlives the use of the strings it holds.
        let code =
            unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), size, &mut result) };
        if code == libc::ERANGE {
            size *= 4;
            continue;
        }
        if code != 0 || result.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name and pw_gecos (when not null) point at NUL-terminated
        // strings inside `buffer`, which is alive here.
        let name = unsafe { CStr::from_ptr(entry.pw_name) }
            .to_string_lossy()
            .into_owned();
        let gecos = if entry.pw_gecos.is_null() {
            None
        } else {
            // SAFETY: as above; pw_gecos is not null here.
            Some(
                unsafe { CStr::from_ptr(entry.pw_gecos) }
                    .to_string_lossy()
                    .into_owned(),
            )
        }
        .and_then(|g| {
            let full = g.split(',').next().unwrap_or("").trim().to_owned();
            (!full.is_empty()).then_some(full)
        });
        if name.is_empty() {
            return None;
        }
        return Some(OsAccount {
            name,
            uid: entry.pw_uid,
            gecos,
        });
    }
    None
}

#[cfg(unix)]
fn uid_label() -> Option<String> {
    // SAFETY: getuid has no preconditions and cannot fail.
    Some(format!("uid:{}", unsafe { libc::getuid() }))
}

#[cfg(not(unix))]
fn uid_label() -> Option<String> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_user_comes_from_the_password_database_not_the_environment() {
        let account = os_account().expect("the test's uid has a passwd entry");
        // SAFETY: no preconditions.
        assert_eq!(account.uid, unsafe { libc::getuid() });
        let id = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        assert_eq!(account.name, String::from_utf8_lossy(&id.stdout).trim());
        assert_eq!(os_user().as_deref(), Some(account.name.as_str()));
    }

    #[test]
    fn a_uid_without_an_entry_is_none() {
        assert_eq!(account_of(0x7fff_fff0), None);
    }
}
