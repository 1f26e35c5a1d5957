//! Power-on self-tests, in the manner of a FIPS 140-3 module's: a
//! known-answer test of each primitive against a published vector, checks
//! that the constant-time comparisons tell equal from unequal, and a check
//! that the random generator does not repeat itself (the continuous test in
//! [`super::rand`] then watches every later draw).
//!
//! [`power_on`] runs them once per process; `sft` calls it before `serve`,
//! `put`, `get`, `ls` and `demo` do any cryptography and refuses to go on if
//! one fails. `sft selftest` runs them and prints each result ([`run`]).
//!
//! Each check judges its answer with plain `==` on public byte arrays, never
//! with a function under test: a broken `ct::eq` must not approve itself.
//! A check of a primitive takes that primitive as an argument, so the tests
//! at the bottom of this file hand each check a deliberately broken version
//! and see it fail.

use std::fmt;
use std::sync::OnceLock;

use super::aead::{AeadKey, Aes256Gcm};
use super::ed25519::{Signature, SigningKey};
use super::error::{CryptoError, Result};
use super::hash::{self, Sha256, DIGEST_LEN};
use super::secret::Secret;
use super::x25519::{EphemeralSecret, SharedSecret};
use super::{compat, ct, hkdf, openssl_version, rand};

/// Why one check failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The primitive answered, but not with the published answer.
    #[error("wrong answer: {0}")]
    WrongAnswer(&'static str),
    /// The primitive returned an error.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

type Outcome = std::result::Result<(), CheckError>;

/// The outcome of one check.
#[derive(Debug)]
pub struct SelfTestResult {
    /// The check's name: primitive and the source of its vector.
    pub name: &'static str,
    /// `Ok` when the primitive gave the published answer.
    pub outcome: Outcome,
}

impl SelfTestResult {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// The first check that failed in [`power_on`], and on which library.
#[derive(Clone, Debug)]
pub struct SelfTestFailure {
    /// The failed check's name, as [`run`] reports it.
    pub name: &'static str,
    /// What went wrong.
    pub cause: CheckError,
    /// The OpenSSL library that failed it ([`super::openssl_version`]).
    pub library: &'static str,
}

impl fmt::Display for SelfTestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cryptographic self-test failed: {}: {} ({})",
            self.name, self.cause, self.library
        )
    }
}

impl std::error::Error for SelfTestFailure {}

type Check = fn() -> Outcome;

const CHECKS: [(&str, Check); 9] = [
    (
        "AES-256-GCM seal+open (NIST CAVP gcmEncryptExtIV256)",
        aes_gcm,
    ),
    ("SHA-256 one-shot (FIPS 180-4 examples)", || {
        sha256_one_shot(hash::sha256)
    }),
    (
        "SHA-256 in uneven updates across blocks, finish and peek (FIPS 180-4, RFC 6234 TEST4)",
        || {
            sha256_streaming(finish_after_updates)?;
            sha256_streaming(peek_after_updates)
        },
    ),
    ("HKDF-SHA256 (RFC 5869 A.1)", hkdf_sha256),
    (
        "X25519 (RFC 7748 5.2), small-order peer keys refused (RFC 7748 6.1)",
        || x25519(x25519_real),
    ),
    ("Ed25519 sign+verify (RFC 8032 7.1 test 1)", ed25519),
    ("constant-time equality ct::eq", || equality(ct::eq)),
    ("compat::compare_digest", || {
        equality(compat::compare_digest)
    }),
    ("RAND_bytes (two draws differ, neither all zero)", || {
        random(rand::fill)
    }),
];

/// Runs every check and reports each, in a fixed order.
pub fn run() -> Vec<SelfTestResult> {
    CHECKS
        .iter()
        .map(|&(name, check)| SelfTestResult {
            name,
            outcome: check(),
        })
        .collect()
}

/// Runs every check the first time it is called in this process and
/// returns that verdict on every call. The first call costs a few
/// milliseconds at most (a dozen curve operations and some hashes; see the
/// `checks` group in benches/crypto.rs); later calls nothing.
///
/// # Errors
/// The first check that failed, with the OpenSSL version.
pub fn power_on() -> std::result::Result<(), SelfTestFailure> {
    static VERDICT: OnceLock<std::result::Result<(), SelfTestFailure>> = OnceLock::new();
    VERDICT.get_or_init(|| first_failure(run())).clone()
}

fn first_failure(results: Vec<SelfTestResult>) -> std::result::Result<(), SelfTestFailure> {
    let failure = results.into_iter().find_map(|r| match r.outcome {
        Ok(()) => None,
        Err(cause) => Some(SelfTestFailure {
            name: r.name,
            cause,
            library: openssl_version(),
        }),
    });
    failure.map_or(Ok(()), Err)
}

/// Decodes a hex literal of this file (the literals are all valid).
fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).expect("self-test vectors are valid hex");
    out
}

fn check(ok: bool, wrong: &'static str) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(CheckError::WrongAnswer(wrong))
    }
}

fn aes_gcm() -> Outcome {
    let key = AeadKey::from_slice(&unhex::<32>(
        "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
    ))
    .expect("32 bytes");
    let iv = unhex::<12>("ac93a1a6145299bde902f21a");
    let aad = unhex::<16>("1e0889016f67601c8ebea4943bc23ad6");
    let pt = unhex::<16>("2d71bcfa914e4ac045b2aa60955fad24");
    let mut gcm = Aes256Gcm::new(&key)?;
    let mut buf = pt;
    let tag = gcm.seal_in_place(&iv, &aad, &mut buf)?;
    check(
        buf == unhex::<16>("8995ae2e6df3dbf96fac7b7137bae67f"),
        "ciphertext",
    )?;
    check(
        tag == unhex::<16>("eca5aa77d51d4a0a14d9c51e1da474ab"),
        "tag",
    )?;
    gcm.open_in_place(&iv, &aad, &mut buf, &tag)?;
    check(buf == pt, "opened plaintext")?;
    let mut bad = tag;
    bad[0] ^= 1;
    check(
        gcm.open_in_place(&iv, &aad, &mut buf, &bad).is_err(),
        "a changed tag was accepted",
    )
}

/// FIPS 180-4 (NIST example values) "abc": one block.
const ABC_DIGEST: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/// FIPS 180-4 (NIST example values) 448-bit message: its padding takes a
/// second block.
const MSG_448: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const MSG_448_DIGEST: &str = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
/// RFC 6234 section 8.4 TEST4: these 64 bytes ten times, 640 bytes.
const TEST4_BLOCK: &[u8] = b"0123456701234567012345670123456701234567012345670123456701234567";
const TEST4_DIGEST: &str = "594847328451bdfa85056225462cc1d867d877fb388df0ce35f25ab5562bfbb5";

fn sha256_one_shot(sha256: fn(&[u8]) -> Result<[u8; DIGEST_LEN]>) -> Outcome {
    check(sha256(b"abc")? == unhex(ABC_DIGEST), "\"abc\"")?;
    check(sha256(MSG_448)? == unhex(MSG_448_DIGEST), "448-bit message")
}

/// SHA-256 of the concatenation of `pieces`, one update per piece.
type DigestOfPieces = fn(&[&[u8]]) -> Result<[u8; DIGEST_LEN]>;

fn sha256_streaming(digest: DigestOfPieces) -> Outcome {
    // Uneven pieces, one of them empty, ending just before the padding.
    let pieces: [&[u8]; 4] = [&MSG_448[..3], &[], &MSG_448[3..55], &MSG_448[55..]];
    check(
        digest(&pieces)? == unhex(MSG_448_DIGEST),
        "448-bit message in 4 updates",
    )?;
    // Pieces that end 1 byte into a block, 1 byte before one, across one,
    // over several, and 1 byte before the end.
    let test4 = TEST4_BLOCK.repeat(10);
    let cuts = [0, 1, 63, 65, 200, 639, 640];
    let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &test4[w[0]..w[1]]).collect();
    check(
        digest(&pieces)? == unhex(TEST4_DIGEST),
        "RFC 6234 TEST4 in 6 updates",
    )
}

fn absorb(pieces: &[&[u8]]) -> Result<Sha256> {
    let mut h = Sha256::new()?;
    for piece in pieces {
        h.update(piece)?;
    }
    Ok(h)
}

fn finish_after_updates(pieces: &[&[u8]]) -> Result<[u8; DIGEST_LEN]> {
    absorb(pieces)?.finish()
}

fn peek_after_updates(pieces: &[&[u8]]) -> Result<[u8; DIGEST_LEN]> {
    absorb(pieces)?.peek()
}

fn hkdf_sha256() -> Outcome {
    let ikm = [0x0bu8; 22];
    let prk = hkdf::extract(&unhex::<13>("000102030405060708090a0b0c"), &ikm)?;
    check(
        *prk.expose() == unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"),
        "PRK",
    )?;
    let okm: Secret<42> = hkdf::expand(&prk, &unhex::<10>("f0f1f2f3f4f5f6f7f8f9"))?;
    check(
        *okm.expose()
            == unhex(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            ),
        "OKM",
    )
}

/// X25519(k, u): the shared secret of scalar `k` with peer key `u`.
type X25519 = fn(&Secret<32>, &[u8; 32]) -> Result<SharedSecret>;

fn x25519_real(k: &Secret<32>, u: &[u8; 32]) -> Result<SharedSecret> {
    EphemeralSecret::from_scalar(k)?.diffie_hellman(u)
}

fn x25519(dh: X25519) -> Outcome {
    let k = Secret::from_slice(&unhex::<32>(
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    ))
    .expect("32 bytes");
    let u = unhex::<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let shared = dh(&k, &u)?;
    check(
        *shared.expose()
            == unhex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        "RFC 7748 5.2 first vector",
    )?;
    // u = 0 and a point of order 8: each gives the all-zero shared secret.
    for small_order in [
        [0u8; 32],
        unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    ] {
        match dh(&k, &small_order) {
            Err(CryptoError::NonContributory) => {}
            Ok(_) => return Err(CheckError::WrongAnswer("accepted a small-order peer key")),
            Err(_) => {
                return Err(CheckError::WrongAnswer(
                    "refused a small-order peer key with an error other than NonContributory",
                ))
            }
        }
    }
    Ok(())
}

fn ed25519() -> Outcome {
    let seed = Secret::from_slice(&unhex::<32>(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ))
    .expect("32 bytes");
    let key = SigningKey::from_seed(&seed)?;
    check(
        *key.verifying_key().as_bytes()
            == unhex::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        "public key",
    )?;
    let sig = key.sign(b"")?;
    let want = unhex::<64>(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    check(*sig.as_bytes() == want, "signature")?;
    key.verifying_key()
        .verify(b"", &Signature::from_bytes(&want)?)?;
    check(
        key.verifying_key().verify(b"x", &sig).is_err(),
        "a signature verified over another message",
    )
}

/// An equality under test: whether `a` and `b` are equal.
type Equality = fn(&[u8], &[u8]) -> bool;

fn equality(eq: Equality) -> Outcome {
    let a: [u8; 32] = unhex(ABC_DIGEST);
    let copy = a;
    check(eq(&a, &copy), "equal inputs compared unequal")?;
    check(eq(&[], &[]), "two empty inputs compared unequal")?;
    for (i, wrong) in [
        (0, "inputs differing in the first byte compared equal"),
        (16, "inputs differing in a middle byte compared equal"),
        (31, "inputs differing in the last byte compared equal"),
    ] {
        for bit in [0x01, 0x80] {
            let mut b = a;
            b[i] ^= bit;
            check(!eq(&a, &b), wrong)?;
        }
    }
    check(
        !eq(&a, &a[..31]) && !eq(&a[..31], &a),
        "inputs of different lengths compared equal",
    )?;
    check(!eq(&[], &a), "an empty input compared equal to 32 bytes")
}

/// A random generator under test: fills its argument.
type Fill = fn(&mut [u8]) -> Result<()>;

fn random(fill: Fill) -> Outcome {
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    fill(&mut a)?;
    fill(&mut b)?;
    check(a != [0; 32] && b != [0; 32], "an all-zero draw")?;
    check(a != b, "two draws were equal")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong(outcome: Outcome) -> &'static str {
        match outcome {
            Err(CheckError::WrongAnswer(what)) => what,
            other => panic!("expected a wrong answer, got {other:?}"),
        }
    }

    #[test]
    fn every_check_passes_on_the_real_primitives_and_power_on_agrees() {
        let results = run();
        assert_eq!(results.len(), CHECKS.len());
        for r in &results {
            assert!(r.passed(), "{}: {:?}", r.name, r.outcome);
        }
        power_on().unwrap();
        power_on().unwrap();
    }

    #[test]
    fn equality_check_catches_an_eq_that_ignores_bytes_or_lengths() {
        equality(ct::eq).unwrap();
        equality(compat::compare_digest).unwrap();
        let ignores_last: Equality = |a, b| {
            a.len() == b.len() && a[..a.len().saturating_sub(1)] == b[..b.len().saturating_sub(1)]
        };
        assert_eq!(
            wrong(equality(ignores_last)),
            "inputs differing in the last byte compared equal"
        );
        let ignores_first: Equality = |a, b| a.len() == b.len() && a.get(1..) == b.get(1..);
        assert_eq!(
            wrong(equality(ignores_first)),
            "inputs differing in the first byte compared equal"
        );
        let ignores_middle: Equality = |a, b| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .enumerate()
                    .all(|(i, (x, y))| i == 16 || x == y)
        };
        assert_eq!(
            wrong(equality(ignores_middle)),
            "inputs differing in a middle byte compared equal"
        );
        let low_bits_only: Equality =
            |a, b| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x & 0x7f == y & 0x7f);
        assert!(equality(low_bits_only).is_err());
        let common_prefix: Equality = |a, b| a.iter().zip(b).all(|(x, y)| x == y);
        assert_eq!(
            wrong(equality(common_prefix)),
            "inputs of different lengths compared equal"
        );
        let always_equal: Equality = |_, _| true;
        assert_eq!(
            wrong(equality(always_equal)),
            "inputs differing in the first byte compared equal"
        );
        let never_equal: Equality = |_, _| false;
        assert_eq!(
            wrong(equality(never_equal)),
            "equal inputs compared unequal"
        );
    }

    #[test]
    fn sha256_checks_catch_a_wrong_one_shot_or_multi_update_path() {
        sha256_one_shot(hash::sha256).unwrap();
        sha256_streaming(finish_after_updates).unwrap();
        sha256_streaming(peek_after_updates).unwrap();
        // Right for one update, wrong for several: keeps only the last piece.
        let last_piece_only: DigestOfPieces =
            |pieces| hash::sha256(pieces.last().copied().unwrap_or_default());
        assert_eq!(
            wrong(sha256_streaming(last_piece_only)),
            "448-bit message in 4 updates"
        );
        // Drops a pending partial block whenever another update arrives.
        let drops_partial_block: DigestOfPieces = |pieces| {
            let mut kept = Vec::new();
            for piece in pieces {
                kept.truncate(kept.len() / 64 * 64);
                kept.extend_from_slice(piece);
            }
            hash::sha256(&kept)
        };
        assert_eq!(
            wrong(sha256_streaming(drops_partial_block)),
            "448-bit message in 4 updates"
        );
        // Right while every update fits in the pending block, but loses the
        // byte after the boundary when an update completes a partial block.
        let straddle_loses_a_byte: DigestOfPieces = |pieces| {
            let mut kept = Vec::new();
            for piece in pieces {
                let room = 64 - kept.len() % 64;
                if kept.len() % 64 != 0 && piece.len() > room {
                    kept.extend_from_slice(&piece[..room]);
                    kept.extend_from_slice(&piece[room + 1..]);
                } else {
                    kept.extend_from_slice(piece);
                }
            }
            hash::sha256(&kept)
        };
        assert_eq!(
            wrong(sha256_streaming(straddle_loses_a_byte)),
            "RFC 6234 TEST4 in 6 updates"
        );
        let ignores_last_byte: fn(&[u8]) -> Result<[u8; DIGEST_LEN]> =
            |data| hash::sha256(&data[..data.len().saturating_sub(1)]);
        assert_eq!(wrong(sha256_one_shot(ignores_last_byte)), "\"abc\"");
    }

    #[test]
    fn x25519_check_catches_zeros_and_an_accepted_small_order_key() {
        x25519(x25519_real).unwrap();
        let zeros: X25519 = |_, _| Secret::try_fill(|_| Ok(()));
        assert_eq!(wrong(x25519(zeros)), "RFC 7748 5.2 first vector");
        // Right on the vector, but hands back the all-zero secret instead
        // of refusing it.
        let accepts_zero: X25519 = |k, u| match x25519_real(k, u) {
            Err(CryptoError::NonContributory) => Secret::try_fill(|_| Ok(())),
            other => other,
        };
        assert_eq!(
            wrong(x25519(accepts_zero)),
            "accepted a small-order peer key"
        );
        let wrong_error: X25519 = |k, u| match x25519_real(k, u) {
            Err(CryptoError::NonContributory) => Err(CryptoError::MalformedKey("zero")),
            other => other,
        };
        assert!(wrong(x25519(wrong_error)).contains("other than NonContributory"));
    }

    #[test]
    fn random_check_catches_a_generator_that_repeats_or_gives_zeros() {
        random(rand::fill).unwrap();
        let repeats: Fill = |buf| {
            buf.fill(0x42);
            Ok(())
        };
        assert_eq!(wrong(random(repeats)), "two draws were equal");
        let zeros: Fill = |buf| {
            buf.fill(0);
            Ok(())
        };
        assert_eq!(wrong(random(zeros)), "an all-zero draw");
    }

    #[test]
    fn power_on_verdict_names_the_first_failed_check_and_the_library() {
        let results = vec![
            SelfTestResult {
                name: "first",
                outcome: Ok(()),
            },
            SelfTestResult {
                name: "second",
                outcome: Err(CheckError::WrongAnswer("tag")),
            },
            SelfTestResult {
                name: "third",
                outcome: Err(CheckError::WrongAnswer("OKM")),
            },
        ];
        let failure = first_failure(results).unwrap_err();
        assert_eq!(failure.name, "second");
        let text = failure.to_string();
        assert!(text.contains("second: wrong answer: tag"), "{text}");
        assert!(text.contains(openssl_version()), "{text}");
        assert!(first_failure(Vec::new()).is_ok());
    }
}
