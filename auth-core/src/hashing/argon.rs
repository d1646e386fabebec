//! argon2 itself: hashing and verifying PHC strings on a pool thread's
//! kept memory ([`with_memory`]), each computation timed for the
//! unoptimised-build hint in debug builds ([`super::speed`]).

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// The most argon2 memory, in 1 KiB blocks (32 MiB), a pool thread keeps
/// between hashes. A hash that needs more allocates its own block for the
/// call: glibc serves allocations above its largest mmap threshold
/// (32 MiB on 64-bit) with `mmap` and gives them back when freed, so
/// such a block costs nothing after its hash.
pub(crate) const MAX_KEPT_BLOCKS: usize = 32 * 1024;

thread_local! {
    /// The argon2 memory a pool thread keeps between hashes: `Some` on the
    /// pool's threads (empty until the first hash), `None` elsewhere.
    static KEPT: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Runs `f` on `blocks` argon2 memory blocks: the calling pool thread's
/// kept block (grown to `blocks` first if smaller, when `blocks` is at
/// most [`MAX_KEPT_BLOCKS`]), else a block allocated for the call.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    KEPT.with(|kept| {
        let kept = kept.try_borrow_mut().ok().filter(|k| k.is_some() && blocks <= MAX_KEPT_BLOCKS);
        match kept {
            Some(mut kept) => {
                let memory = kept.get_or_insert_with(Vec::new);
                if memory.len() < blocks {
                    // Exactly what is asked for: no doubling on growth.
                    memory.reserve_exact(blocks - memory.len());
                    memory.resize(blocks, Block::new());
                }
                f(&mut memory[..blocks])
            }
            None => f(&mut vec![Block::new(); blocks]),
        }
    })
}

/// Makes the calling thread (a pool thread, at its start) keep the argon2
/// memory of its first hash for the next.
pub(super) fn keep_memory_on_this_thread() {
    KEPT.with(|kept| *kept.borrow_mut() = Some(Vec::new()));
}

/// argon2 with `argon2`'s settings over `password` and `salt` into `out`,
/// on [`with_memory`], timed for [`super::speed`].
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    let cost = u64::try_from(blocks).unwrap_or(u64::MAX).saturating_mul(u64::from(argon2.params().t_cost()));
    super::speed::timed(cost, || {
        with_memory(blocks, |memory| argon2.hash_password_into_with_memory(password, salt, out, memory))
    })
}

/// The salt of [`HashSpec::placeholder`]: 16 bytes, like a generated one.
const PLACEHOLDER_SALT: &str = "bm8tc3VjaC11c2VyLXB3IQ";

/// How new password hashes are made: an argon2 algorithm, version and
/// parameters.
#[derive(Debug, Clone)]
pub(crate) struct HashSpec {
    pub(crate) algorithm: Algorithm,
    pub(crate) version: Version,
    pub(crate) params: Params,
}

impl HashSpec {
    /// Hashes `password` with a fresh random salt into a PHC string, the
    /// same string argon2's `PasswordHasher::hash_password` makes (on the
    /// pool's kept memory, see [`with_memory`]).
    pub(crate) fn hash(&self, password: &[u8]) -> argon2::password_hash::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_buf = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let mut out_buf = [0u8; Output::MAX_LENGTH];
        let out = self.output(&mut out_buf)?;
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        compute(&argon2, password, salt_bytes, out)?;
        self.phc(salt.as_salt(), out)
    }

    /// A PHC string of this spec (algorithm, version, parameters, output
    /// length) with a fixed salt and an all-zero output, made without
    /// hashing: checking a password against it costs what checking one
    /// against a real hash of this spec costs, and no password matches it
    /// but by a 2^-256 chance. The hash an unknown user is checked against.
    pub(crate) fn placeholder(&self) -> argon2::password_hash::Result<String> {
        let mut zeros = [0u8; Output::MAX_LENGTH];
        let out = self.output(&mut zeros)?;
        self.phc(Salt::from_b64(PLACEHOLDER_SALT)?, out)
    }

    /// The front of `buf` this spec's output fills.
    fn output<'a>(
        &self,
        buf: &'a mut [u8; Output::MAX_LENGTH],
    ) -> argon2::password_hash::Result<&'a mut [u8]> {
        let len = self.params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        buf.get_mut(..len).ok_or(argon2::password_hash::Error::OutputSize {
            provided: std::cmp::Ordering::Greater,
            expected: Output::MAX_LENGTH,
        })
    }

    fn phc(&self, salt: Salt<'_>, out: &[u8]) -> argon2::password_hash::Result<String> {
        let hash = PasswordHash {
            algorithm: self.algorithm.ident(),
            version: Some(self.version.into()),
            params: ParamsString::try_from(&self.params)?,
            salt: Some(salt),
            hash: Some(Output::new(out)?),
        };
        Ok(hash.to_string())
    }
}

/// What checking a password against a stored PHC string found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The password is right.
    Match,
    /// The password is wrong.
    Mismatch,
    /// The string is not an argon2 hash argon2 accepts (nothing was
    /// hashed, or argon2 refused to).
    Malformed,
    /// An argon2 hash asking for more work, memory or lanes than a login
    /// spends (nothing was hashed).
    OutOfBounds,
}

/// The memory of `hash_password`'s hashes, in KiB (OWASP: 19 MiB).
pub(crate) const DEFAULT_M_COST: u32 = 19 * 1024;

/// The passes of `hash_password`'s hashes (OWASP: 2).
pub(crate) const DEFAULT_T_COST: u32 = 2;

/// The work of one hash with `hash_password`'s parameters, in 1 KiB block
/// passes.
pub(crate) const REFERENCE_COST: u64 = DEFAULT_M_COST as u64 * DEFAULT_T_COST as u64;

/// The most work a stored hash may ask for: sixteen times the default
/// (argon2-cffi's and PHP's defaults, 64 MiB with 3 or 4 passes, fit).
pub(crate) const MAX_STORED_COST: u64 = 16 * REFERENCE_COST;

/// The most memory a stored hash may ask for, in KiB (64 MiB).
pub(crate) const MAX_STORED_MEMORY: u32 = 64 * 1024;

/// The most lanes a stored hash may ask for.
pub(crate) const MAX_STORED_LANES: u32 = 16;

/// The work of a hash with `params`, in 1 KiB block passes.
fn cost(params: &Params) -> u64 {
    u64::from(params.m_cost()) * u64::from(params.t_cost())
}

/// Whether a stored hash's parameters are within what a login will spend
/// (work, memory and lanes).
fn within_bounds(params: &Params) -> bool {
    cost(params) <= MAX_STORED_COST
        && params.m_cost() <= MAX_STORED_MEMORY
        && params.p_cost() <= MAX_STORED_LANES
}

/// Whether the argon2 PHC string `phc` was made otherwise than `spec`
/// makes hashes now (another algorithm, version or parameters), or is no
/// hash at all: its user's password should be hashed again.
pub(crate) fn differs_from(phc: &str, spec: &HashSpec) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else { return true };
    let same_algorithm = Algorithm::try_from(hash.algorithm).is_ok_and(|a| a == spec.algorithm);
    let same_version = hash.version.map(Version::try_from).transpose().ok().flatten() == Some(spec.version);
    let same_params = Params::try_from(&hash).is_ok_and(|p| {
        (p.m_cost(), p.t_cost(), p.p_cost())
            == (spec.params.m_cost(), spec.params.t_cost(), spec.params.p_cost())
    });
    !(same_algorithm && same_version && same_params)
}

/// Checks `password` against the argon2 PHC string `phc`, as argon2's
/// `PasswordVerifier` decides it: the algorithm, version, parameters,
/// salt and output length of the string, the outputs compared in
/// constant time. Computed on the pool's kept memory (see [`with_memory`]).
pub(crate) fn check_phc(phc: &str, password: &[u8]) -> Verdict {
    let Ok(hash) = PasswordHash::new(phc) else { return Verdict::Malformed };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else { return Verdict::Malformed };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else { return Verdict::Malformed };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return Verdict::Malformed,
    };
    // `m`, `t`, `p`, `keyid`, `data` and the output length, checked
    // against argon2's bounds (an unknown parameter is an error).
    let Ok(params) = Params::try_from(&hash) else { return Verdict::Malformed };
    // A stored hash does not choose how long a login takes: past the
    // bounds it is refused unhashed (one row set to 1 GiB would hold a
    // hashing thread for seconds per attempt).
    if !within_bounds(&params) {
        return Verdict::OutOfBounds;
    }
    let mut salt_buf = [0u8; Salt::MAX_LENGTH];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else { return Verdict::Malformed };
    let mut out_buf = [0u8; Output::MAX_LENGTH];
    let Some(out) = out_buf.get_mut(..expected.len()) else { return Verdict::Malformed };
    let argon2 = Argon2::new(algorithm, version, params);
    if compute(&argon2, password, salt_bytes, &mut *out).is_err() {
        return Verdict::Malformed;
    }
    if bool::from(out.ct_eq(expected.as_bytes())) { Verdict::Match } else { Verdict::Mismatch }
}

/// Whether `password` matches the argon2 PHC string `phc` ([`check_phc`]
/// found a [`Verdict::Match`]): `false` for a wrong password, and for a
/// string that is not an argon2 hash or one argon2 refuses.
#[cfg(test)]
pub(crate) fn verify_phc(phc: &str, password: &[u8]) -> bool {
    check_phc(phc, password) == Verdict::Match
}

#[cfg(test)]
#[path = "argon_tests.rs"]
mod tests;
