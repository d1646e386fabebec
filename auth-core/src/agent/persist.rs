//! [`TokenStore`]: where a client keeps its tokens between runs.
//!
//! The default, [`MemoryTokenStore`], lives as long as the process (share
//! one `Arc` between clients to hand tokens over). [`FileTokenStore`] keeps
//! them in a JSON file only its owner can read, so a restarted client goes
//! on without logging in again. Write your own for a keyring or a database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::BoxError;
use super::tokens::Tokens;

/// Keeps one [`Tokens`] per account (`"<dialect> <server> <username>"`).
///
/// A failing store never fails a request: the client logs a warning
/// (without the tokens) and keeps the tokens in memory.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_core::agent::{MemoryTokenStore, TokenStore, Tokens};
/// let store = MemoryTokenStore::default();
/// let tokens = Tokens::received("t".into(), None, None, None, 0);
/// store.save("standard http://h ann", &tokens).await.unwrap();
/// assert_eq!(store.load("standard http://h ann").await.unwrap(), Some(tokens));
/// assert_eq!(store.load("standard http://h bob").await.unwrap(), None);
/// # })
/// ```
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The tokens saved for `account`, if any.
    async fn load(&self, account: &str) -> Result<Option<Tokens>, BoxError>;
    /// Saves the tokens of `account`, replacing what was there.
    async fn save(&self, account: &str, tokens: &Tokens) -> Result<(), BoxError>;
    /// Forgets the tokens of `account`.
    async fn clear(&self, account: &str) -> Result<(), BoxError>;
}

/// Tokens in this process's memory (the default).
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    accounts: Mutex<HashMap<String, Tokens>>,
}

#[async_trait::async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, account: &str) -> Result<Option<Tokens>, BoxError> {
        Ok(self.accounts.lock().map_err(|_| "poisoned")?.get(account).cloned())
    }

    async fn save(&self, account: &str, tokens: &Tokens) -> Result<(), BoxError> {
        self.accounts.lock().map_err(|_| "poisoned")?.insert(account.to_owned(), tokens.clone());
        Ok(())
    }

    async fn clear(&self, account: &str) -> Result<(), BoxError> {
        self.accounts.lock().map_err(|_| "poisoned")?.remove(account);
        Ok(())
    }
}

/// Tokens in a JSON file (`{"<account>": {tokens}}`), only its owner can
/// read (mode 0600 on Unix), replaced atomically so a crash never leaves
/// half a file. File access runs on tokio's blocking pool.
///
/// Each save writes a new temporary file with a random name in the same
/// directory, created exclusively (`create_new`: an existing file or
/// symbolic link of that name is refused, never opened) with mode 0600,
/// then renamed over the token file. The rename replaces whatever is at
/// the token file's path (a file someone else created, a symbolic link)
/// instead of writing through it, and the temporary file is removed if the
/// save fails. The token file is never read through a symbolic link. Saves
/// from one process are serialised, so two clients sharing the file keep
/// each other's accounts; between processes the last save wins (the other
/// client logs in again). Keep the file in a directory only its owner can
/// write to: whoever can write there can replace the file.
///
/// ```no_run
/// use auth_core::agent::FileTokenStore;
/// let store = FileTokenStore::new("/var/lib/my-service/tokens.json");
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

/// Serialises the read-modify-write cycles of every [`FileTokenStore`] of
/// this process (saves are rare: logins and refreshes).
static SAVING: Mutex<()> = Mutex::new(());

impl FileTokenStore {
    /// A store in the file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Path) -> Result<T, BoxError> + Send + 'static,
    ) -> Result<T, BoxError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || f(&path)).await?
    }

    async fn update(&self, account: &str, tokens: Option<Tokens>) -> Result<(), BoxError> {
        let account = account.to_owned();
        self.blocking(move |path| {
            let _saving = SAVING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut all = match read_file(path)? {
                Existing::Missing => HashMap::new(),
                Existing::Bytes(bytes) => serde_json::from_slice(&bytes)?,
                // Not ours to read: replaced by the rename below.
                Existing::NotAFile => {
                    tracing::warn!(
                        path = %path.display(),
                        "the token file is not a regular file (a symbolic link?); replacing it"
                    );
                    HashMap::new()
                }
            };
            match tokens {
                Some(t) => all.insert(account, t),
                None => all.remove(&account),
            };
            write_all(path, &all)
        })
        .await
    }
}

/// What is at the token file's path.
enum Existing {
    Missing,
    /// A symbolic link, a directory, a device...
    NotAFile,
    Bytes(Vec<u8>),
}

/// Reads the token file without following a symbolic link: the path must
/// name a regular file, and the file opened must be that one (not one a
/// link swapped in between the check and the open points to).
fn read_file(path: &Path) -> Result<Existing, BoxError> {
    use std::io::Read as _;
    let seen = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(e) => return Err(e.into()),
    };
    if !seen.file_type().is_file() {
        return Ok(Existing::NotAFile);
    }
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(e) => return Err(e.into()),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let opened = file.metadata()?;
        if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
            return Ok(Existing::NotAFile);
        }
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(Existing::Bytes(bytes))
}

fn read_all(path: &Path) -> Result<HashMap<String, Tokens>, BoxError> {
    match read_file(path)? {
        Existing::Missing => Ok(HashMap::new()),
        Existing::Bytes(bytes) => Ok(serde_json::from_slice(&bytes)?),
        Existing::NotAFile => Err(format!(
            "the token file {} is not a regular file (a symbolic link?); not read",
            path.display()
        )
        .into()),
    }
}

/// Writes `all` to a new temporary file next to `path` and renames it over
/// `path`; the temporary file is removed if anything fails.
fn write_all(path: &Path, all: &HashMap<String, Tokens>) -> Result<(), BoxError> {
    use std::io::Write as _;
    let bytes = serde_json::to_vec(all)?;
    let (tmp, mut file) = create_temporary(path)?;
    let written = file.write_all(&bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    // The rename itself survives a crash once the directory is on disk.
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A new file `.NAME.RANDOM.tmp` in the token file's directory, created
/// exclusively (never an existing file, never through a symbolic link),
/// mode 0600 on Unix.
fn create_temporary(path: &Path) -> Result<(PathBuf, std::fs::File), BoxError> {
    let name = path.file_name().ok_or("the token file path has no file name")?;
    for _ in 0..8 {
        let random = uuid::Uuid::new_v4().simple();
        let tmp = path.with_file_name(format!(".{}.{random}.tmp", name.to_string_lossy()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err("no unused temporary file name for the token file".into())
}

#[async_trait::async_trait]
impl TokenStore for FileTokenStore {
    async fn load(&self, account: &str) -> Result<Option<Tokens>, BoxError> {
        let account = account.to_owned();
        self.blocking(move |path| Ok(read_all(path)?.remove(&account))).await
    }

    async fn save(&self, account: &str, tokens: &Tokens) -> Result<(), BoxError> {
        self.update(account, Some(tokens.clone())).await
    }

    async fn clear(&self, account: &str) -> Result<(), BoxError> {
        self.update(account, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_store_keeps_accounts_apart_and_is_private() {
        let dir = std::env::temp_dir().join(format!("agent-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = FileTokenStore::new(dir.join("tokens.json"));
        assert_eq!(store.load("a").await.unwrap(), None);
        let t = Tokens::received("secret-a".into(), Some("r".into()), None, Some(5), 0);
        store.save("a", &t).await.unwrap();
        store.save("b", &Tokens::received("secret-b".into(), None, None, None, 0)).await.unwrap();
        // a second store on the same file (a restarted client) sees them
        let again = FileTokenStore::new(store.path());
        assert_eq!(again.load("a").await.unwrap(), Some(t));
        again.clear("a").await.unwrap();
        assert_eq!(store.load("a").await.unwrap(), None);
        assert!(store.load("b").await.unwrap().is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(store.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("agent-store-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn tokens(access: &str) -> Tokens {
        Tokens::received(access.into(), Some(format!("{access}-refresh")), None, Some(5), 0)
    }

    /// The temporary file name the store used to write through.
    #[cfg(unix)]
    fn old_temporary(dir: &Path) -> PathBuf {
        dir.join(format!(".tokens.json.{}.tmp", std::process::id()))
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Files in `dir` named like a temporary token file.
    fn temporaries(dir: &Path) -> Vec<String> {
        let names =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
        names.filter(|n| n.ends_with(".tmp")).collect()
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn pre_created_world_readable_files_never_receive_the_tokens() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("planted");
        let target = dir.join("tokens.json");
        // Someone else created the token file and the old temporary file,
        // world-readable, and kept a second name (a hard link) for each.
        let planted = [(target.clone(), "{}"), (old_temporary(&dir), "planted")];
        for (i, (path, content)) in planted.iter().enumerate() {
            std::fs::write(path, content).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
            std::fs::hard_link(path, dir.join(format!("kept-{i}"))).unwrap();
        }
        let store = FileTokenStore::new(&target);
        store.save("a", &tokens("secret-a")).await.unwrap();
        assert_eq!(mode(&target), 0o600, "the token file is private");
        assert_eq!(store.load("a").await.unwrap(), Some(tokens("secret-a")));
        for (i, (_, content)) in planted.iter().enumerate() {
            let kept = std::fs::read_to_string(dir.join(format!("kept-{i}"))).unwrap();
            assert_eq!(kept, *content, "a planted file got the tokens");
        }
        assert_eq!(std::fs::read_to_string(old_temporary(&dir)).unwrap(), "planted");
        assert_eq!(temporaries(&dir), [old_temporary(&dir).file_name().unwrap().to_string_lossy()]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_symlink_at_the_token_file_is_replaced_not_written_through() {
        let dir = temp_dir("target-link");
        let target = dir.join("tokens.json");
        let other = dir.join("precious");
        std::fs::write(&other, "not tokens").unwrap();
        std::os::unix::fs::symlink(&other, &target).unwrap();
        let store = FileTokenStore::new(&target);
        let err = store.load("a").await.unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        store.save("a", &tokens("secret-a")).await.unwrap();
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "not tokens");
        assert!(std::fs::symlink_metadata(&target).unwrap().file_type().is_file());
        assert_eq!(mode(&target), 0o600);
        assert_eq!(store.load("a").await.unwrap(), Some(tokens("secret-a")));
        assert!(temporaries(&dir).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_symlink_at_the_old_temporary_name_is_not_followed() {
        let dir = temp_dir("temp-link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "victim").unwrap();
        let nowhere = dir.join("created-through-a-link");
        // One link to an existing file, one to a file that does not exist
        // yet (opening it with `create` would create it).
        std::os::unix::fs::symlink(&victim, old_temporary(&dir)).unwrap();
        let store = FileTokenStore::new(dir.join("tokens.json"));
        store.save("a", &tokens("secret-a")).await.unwrap();
        std::fs::remove_file(old_temporary(&dir)).unwrap();
        std::os::unix::fs::symlink(&nowhere, old_temporary(&dir)).unwrap();
        store.save("b", &tokens("secret-b")).await.unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim");
        assert!(!nowhere.exists(), "a file was created through the link");
        assert!(std::fs::symlink_metadata(old_temporary(&dir)).unwrap().file_type().is_symlink());
        assert_eq!(mode(&dir.join("tokens.json")), 0o600);
        assert_eq!(store.load("a").await.unwrap(), Some(tokens("secret-a")));
        assert_eq!(store.load("b").await.unwrap(), Some(tokens("secret-b")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_in_one_process_each_leave_a_complete_file() {
        let dir = temp_dir("writers");
        let path = dir.join("tokens.json");
        // Long tokens: each file takes several writes.
        let long = |writer: usize, round: usize| format!("{writer}-{round}-{}", "x".repeat(16 * 1024));
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let store = FileTokenStore::new(&path);
                tokio::spawn(async move {
                    for round in 0..10 {
                        let account = format!("account-{writer}");
                        store.save(&account, &tokens(&long(writer, round))).await.unwrap();
                        // whatever the others do, the file is whole
                        let saved = store.load(&account).await.unwrap();
                        assert_eq!(saved, Some(tokens(&long(writer, round))));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let store = FileTokenStore::new(&path);
        for writer in 0..8 {
            let saved = store.load(&format!("account-{writer}")).await.unwrap();
            assert_eq!(saved, Some(tokens(&long(writer, 9))), "writer {writer}'s last save");
        }
        assert!(temporaries(&dir).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_failed_save_leaves_no_temporary_file() {
        let dir = temp_dir("failed");
        // a directory where the file should be: the rename fails
        let path = dir.join("tokens.json");
        std::fs::create_dir_all(path.join("occupied")).unwrap();
        let store = FileTokenStore::new(&path);
        assert!(store.save("a", &tokens("secret-a")).await.is_err());
        assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
