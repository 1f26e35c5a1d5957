//! Power-on known-answer tests, one per primitive, in the manner of a
//! FIPS 140 module's self-tests: run them at start and refuse to work if
//! any fails.

use super::aead::{AeadKey, Aes256Gcm};
use super::ed25519::{Signature, SigningKey};
use super::error::{CryptoError, Result};
use super::secret::Secret;
use super::x25519::EphemeralSecret;
use super::{ct, hash, hkdf, rand};

/// The outcome of one known-answer test.
#[derive(Debug)]
pub struct SelfTestResult {
    /// The test's name: primitive and the source of its vector.
    pub name: &'static str,
    /// `Ok` when the primitive produced the published answer.
    pub outcome: Result<()>,
}

impl SelfTestResult {
    /// Whether the test passed.
    pub fn passed(&self) -> bool {
        self.outcome.is_ok()
    }
}

type Kat = fn() -> Result<()>;

const KATS: [(&str, Kat); 6] = [
    (
        "AES-256-GCM seal+open (NIST CAVP gcmEncryptExtIV256)",
        aes_gcm,
    ),
    ("SHA-256 (FIPS 180-4 example \"abc\")", sha256),
    ("HKDF-SHA256 (RFC 5869 A.1)", hkdf_sha256),
    ("X25519 (RFC 7748 5.2)", x25519),
    ("Ed25519 sign+verify (RFC 8032 7.1 test 1)", ed25519),
    ("RAND_bytes (two draws differ)", random),
];

/// Runs every known-answer test and reports each, in a fixed order.
pub fn run() -> Vec<SelfTestResult> {
    KATS.iter()
        .map(|&(name, kat)| SelfTestResult {
            name,
            outcome: kat(),
        })
        .collect()
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).expect("self-test vectors are valid hex");
    out
}

fn expect(ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(CryptoError::MalformedKey("known answer mismatch"))
    }
}

fn aes_gcm() -> Result<()> {
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
    expect(buf == unhex::<16>("8995ae2e6df3dbf96fac7b7137bae67f"))?;
    expect(tag == unhex::<16>("eca5aa77d51d4a0a14d9c51e1da474ab"))?;
    gcm.open_in_place(&iv, &aad, &mut buf, &tag)?;
    expect(buf == pt)?;
    let mut bad = tag;
    bad[0] ^= 1;
    expect(gcm.open_in_place(&iv, &aad, &mut buf, &bad).is_err())
}

fn sha256() -> Result<()> {
    expect(
        hash::sha256(b"abc")?
            == unhex::<32>("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    )
}

fn hkdf_sha256() -> Result<()> {
    let ikm = [0x0bu8; 22];
    let prk = hkdf::extract(&unhex::<13>("000102030405060708090a0b0c"), &ikm)?;
    expect(ct::eq(
        prk.expose(),
        &unhex::<32>("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"),
    ))?;
    let okm: Secret<42> = hkdf::expand(&prk, &unhex::<10>("f0f1f2f3f4f5f6f7f8f9"))?;
    expect(ct::eq(
        okm.expose(),
        &unhex::<42>(
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
    ))
}

fn x25519() -> Result<()> {
    let scalar = Secret::from_slice(&unhex::<32>(
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    ))
    .expect("32 bytes");
    let u = unhex::<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let shared = EphemeralSecret::from_scalar(&scalar)?.diffie_hellman(&u)?;
    expect(ct::eq(
        shared.expose(),
        &unhex::<32>("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
    ))
}

fn ed25519() -> Result<()> {
    let seed = Secret::from_slice(&unhex::<32>(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ))
    .expect("32 bytes");
    let key = SigningKey::from_seed(&seed)?;
    expect(
        key.verifying_key().as_bytes()
            == &unhex::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
    )?;
    let sig = key.sign(b"")?;
    let want = Signature::from_bytes(&unhex::<64>(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ))?;
    expect(sig == want)?;
    key.verifying_key().verify(b"", &sig)?;
    expect(key.verifying_key().verify(b"x", &sig).is_err())
}

fn random() -> Result<()> {
    let a: [u8; 32] = rand::array()?;
    let b: [u8; 32] = rand::array()?;
    expect(a != b && a != [0u8; 32])
}
