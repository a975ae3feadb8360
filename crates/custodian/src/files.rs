//! Durable file operations: atomic writes ([`minimis_service::files`]), and the
//! overwrite-sync-unlink-sync sequence that destroys a key file (**RET-4**,
//! spec/retention.md § Destroying a key file).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

pub use minimis_service::files::FileError;
#[cfg(test)]
pub(crate) use minimis_service::files::tmp_path;
pub(crate) use minimis_service::files::{io, make_private_dir, sync_dir, write_atomic};

/// The directory that holds `path`: its parent, or `.` for a bare file name (whose
/// parent is the empty path, which cannot be opened).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Destroys a file's contents as far as a program can (**RET-4**): overwrites every byte
/// in place with zeroes, syncs the file, unlinks it and syncs the directory. A missing
/// file is not an error (the destruction was already done).
///
/// On a file system that writes in place (ext4, XFS) this replaces the old blocks; a
/// copy-on-write file system (btrfs, ZFS) or a flash translation layer (wear levelling)
/// may keep the old blocks until they are reused. spec/retention.md says what that
/// leaves and what the deployment must add.
pub(crate) fn scrub_and_unlink(path: &Path) -> Result<(), FileError> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path)(e)),
    };
    {
        let mut f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        let zeros = [0u8; 4096];
        let mut left = len;
        while left > 0 {
            let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
            f.write_all(&zeros[..n]).map_err(io(path))?;
            left -= n as u64;
        }
        f.sync_all().map_err(io(path))?;
    }
    std::fs::remove_file(path).map_err(io(path))?;
    sync_dir(parent_of(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_then_scrub_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.age");
        write_atomic(&p, b"secret bytes", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"secret bytes");
        assert!(!tmp_path(&p).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        scrub_and_unlink(&p).unwrap();
        assert!(!p.exists());
        scrub_and_unlink(&p).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn ret_36_a_bare_file_name_is_in_the_working_directory() {
        // `custodian-agency.key` has the empty path as its parent, which cannot be
        // opened to sync: the working directory is meant.
        assert_eq!(parent_of(Path::new("custodian-agency.key")), Path::new("."));
        assert_eq!(parent_of(Path::new("d/k")), Path::new("d"));
    }
}
