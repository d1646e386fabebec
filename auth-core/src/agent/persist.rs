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

/// Tokens in a JSON file (`{"<account>": {tokens}}`), created with mode
/// 0600 on Unix and replaced atomically (a temporary file renamed over
/// it), so a crash never leaves half a file. File access runs on tokio's
/// blocking pool.
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
            let mut all = read_all(path)?;
            match tokens {
                Some(t) => all.insert(account, t),
                None => all.remove(&account),
            };
            write_all(path, &all)
        })
        .await
    }
}

fn read_all(path: &Path) -> Result<HashMap<String, Tokens>, BoxError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(e.into()),
    }
}

fn write_all(path: &Path, all: &HashMap<String, Tokens>) -> Result<(), BoxError> {
    use std::io::Write as _;
    let name = path.file_name().ok_or("the token file path has no file name")?;
    let tmp = path.with_file_name(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(&serde_json::to_vec(all)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
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
}
