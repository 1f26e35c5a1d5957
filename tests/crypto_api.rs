//! Limits, refusals and hygiene of the crypto core and key files.

use std::os::unix::fs::PermissionsExt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sft::crypto::aead::{AeadKey, Aes256Gcm};
use sft::crypto::compat::{self, CompatError, MAX_DATA_LEN};
use sft::crypto::ed25519::{Fingerprint, Signature, SigningKey, VerifyingKey};
use sft::crypto::hash::{self, Sha256, PEEK_LIMIT};
use sft::crypto::secret::Secret;
use sft::crypto::stats::{self, Op};
use sft::crypto::x25519::EphemeralSecret;
use sft::crypto::{hkdf, rand, CryptoError};
use sft::keys::{self, KeyError, PublicKeyLine};

const KEY: [u8; 32] = [7; 32];
const IV: [u8; 12] = [9; 12];

#[test]
fn compat_key_iv_tag_lengths_exact() {
    for bad in [0, 31, 33] {
        let r = compat::aes_gcm_encrypt(b"x", &vec![1; bad], &IV, b"");
        assert!(matches!(r, Err(CompatError::KeyLength(n)) if n == bad));
        let r = compat::aes_gcm_decrypt(b"x", &vec![1; bad], &IV, &[0; 16], b"");
        assert!(matches!(r, Err(CompatError::KeyLength(n)) if n == bad));
    }
    for bad in [0, 11, 13, 16] {
        let r = compat::aes_gcm_encrypt(b"x", &KEY, &vec![1; bad], b"");
        assert!(matches!(r, Err(CompatError::IvLength(n)) if n == bad));
    }
    let (ct, tag) = compat::aes_gcm_encrypt(b"x", &KEY, &IV, b"").unwrap();
    for bad in [0, 12, 15, 17] {
        let r = compat::aes_gcm_decrypt(&ct, &KEY, &IV, &vec![0; bad], b"");
        assert!(matches!(r, Err(CompatError::TagLength(n)) if n == bad));
    }
    assert_eq!(
        compat::aes_gcm_decrypt(&ct, &KEY, &IV, &tag, b"").unwrap(),
        b"x"
    );
}

#[test]
fn compat_ten_mib_limits_at_the_boundary() {
    let at = vec![0u8; MAX_DATA_LEN];
    let over = vec![0u8; MAX_DATA_LEN + 1];
    assert_eq!(MAX_DATA_LEN, 10_485_760);

    let (ct, tag) = compat::aes_gcm_encrypt(&at, &KEY, &IV, &at).unwrap();
    assert_eq!(ct.len(), MAX_DATA_LEN);
    assert_eq!(
        compat::aes_gcm_decrypt(&ct, &KEY, &IV, &tag, &at)
            .unwrap()
            .len(),
        MAX_DATA_LEN
    );
    assert!(matches!(
        compat::aes_gcm_encrypt(&over, &KEY, &IV, b""),
        Err(CompatError::PlaintextTooLarge(n)) if n == MAX_DATA_LEN + 1
    ));
    assert!(matches!(
        compat::aes_gcm_encrypt(b"", &KEY, &IV, &over),
        Err(CompatError::AadTooLarge(n)) if n == MAX_DATA_LEN + 1
    ));
    assert!(matches!(
        compat::aes_gcm_decrypt(&over, &KEY, &IV, &tag, b""),
        Err(CompatError::CiphertextTooLarge(n)) if n == MAX_DATA_LEN + 1
    ));
    assert!(matches!(
        compat::aes_gcm_decrypt(b"", &KEY, &IV, &tag, &over),
        Err(CompatError::AadTooLarge(n)) if n == MAX_DATA_LEN + 1
    ));

    assert!(compat::sha256_hash(&at).is_ok());
    assert!(matches!(
        compat::sha256_hash(&over),
        Err(CompatError::HashInputTooLarge(n)) if n == MAX_DATA_LEN + 1
    ));

    assert!(matches!(
        compat::generate_secure_random(0),
        Err(CompatError::RandomLengthZero)
    ));
    assert_eq!(compat::generate_secure_random(1).unwrap().len(), 1);
    assert_eq!(
        compat::generate_secure_random(MAX_DATA_LEN).unwrap().len(),
        MAX_DATA_LEN
    );
    assert!(matches!(
        compat::generate_secure_random(MAX_DATA_LEN + 1),
        Err(CompatError::RandomTooLarge(n)) if n == MAX_DATA_LEN + 1
    ));
}

#[test]
fn compat_empty_plaintext_and_aad_are_valid() {
    // NIST CAVP gcmEncryptExtIV256.rsp, [PTlen = 0][AADlen = 0] Count = 0.
    let key =
        hex::decode("b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4").unwrap();
    let iv = hex::decode("516c33929df5a3284ff463d7").unwrap();
    let (ct, tag) = compat::aes_gcm_encrypt(b"", &key, &iv, b"").unwrap();
    assert!(ct.is_empty());
    assert_eq!(hex::encode(tag), "bdc1ac884d332457a1d2664f168c76f0");
    assert!(compat::aes_gcm_decrypt(b"", &key, &iv, &tag, &[])
        .unwrap()
        .is_empty());
    assert!(matches!(
        compat::aes_gcm_decrypt(b"", &key, &iv, &tag, b"a"),
        Err(CompatError::AuthenticationFailed)
    ));
}

#[test]
fn compat_compare_digest() {
    assert!(compat::compare_digest(b"abc", b"abc"));
    assert!(compat::compare_digest(b"", b""));
    assert!(!compat::compare_digest(b"abc", b"abd"));
    assert!(!compat::compare_digest(b"abc", b"abcd"));
    assert!(!compat::compare_digest(b"", b"a"));
}

#[test]
fn sha256_peek_works_up_to_its_limit_then_errs_while_finish_stays_right() {
    let data: Vec<u8> = (0..=PEEK_LIMIT).map(|i| (i % 251) as u8).collect();
    let mut h = Sha256::new().unwrap();
    h.update(&data[..1000]).unwrap();
    h.update(&data[1000..PEEK_LIMIT]).unwrap();
    assert_eq!(
        h.peek().unwrap(),
        hash::sha256(&data[..PEEK_LIMIT]).unwrap()
    );
    h.update(&data[PEEK_LIMIT..]).unwrap();
    assert!(matches!(
        h.peek(),
        Err(CryptoError::TooLarge { limit: PEEK_LIMIT, got, .. }) if got == PEEK_LIMIT + 1
    ));
    assert_eq!(h.finish().unwrap(), hash::sha256(&data).unwrap());
}

/// Opens `ct` under a fresh context; returns the result and the buffer.
fn open_with(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    ct: &[u8],
    tag: &[u8; 16],
) -> (Result<(), CryptoError>, Vec<u8>) {
    let mut gcm = Aes256Gcm::new(&AeadKey::from_slice(key).unwrap()).unwrap();
    let mut buf = ct.to_vec();
    (gcm.open_in_place(nonce, aad, &mut buf, tag), buf)
}

#[test]
fn aead_open_fails_alike_for_every_change_and_zeroes_buffer() {
    let mut gcm = Aes256Gcm::new(&AeadKey::from_slice(&KEY).unwrap()).unwrap();
    let msg = b"attack at dawn, bring snacks".to_vec();
    let mut ct = msg.clone();
    let tag = gcm.seal_in_place(&IV, b"hdr", &mut ct).unwrap();

    let mut bad_tag = tag;
    bad_tag[15] ^= 0x80;
    let mut bad_ct = ct.clone();
    bad_ct[3] ^= 1;
    let cases = [
        ("tag", open_with(&KEY, &IV, b"hdr", &ct, &bad_tag)),
        ("key", open_with(&[8; 32], &IV, b"hdr", &ct, &tag)),
        ("nonce", open_with(&KEY, &[0; 12], b"hdr", &ct, &tag)),
        ("aad", open_with(&KEY, &IV, b"hdR", &ct, &tag)),
        ("ciphertext", open_with(&KEY, &IV, b"hdr", &bad_ct, &tag)),
    ];
    for (what, (result, buf)) in cases {
        assert!(
            matches!(result, Err(CryptoError::AuthenticationFailed)),
            "{what}"
        );
        assert!(buf.iter().all(|&b| b == 0), "{what}: plaintext released");
    }
    // The same context stays usable after a failure.
    let mut buf = ct.clone();
    assert!(gcm.open_in_place(&IV, b"x", &mut buf, &tag).is_err());
    let mut buf = ct.clone();
    gcm.open_in_place(&IV, b"hdr", &mut buf, &tag).unwrap();
    assert_eq!(buf, msg);
}

/// Every small-order u-coordinate on Curve25519, canonical and not: 0, 1,
/// the two points of order 8, p-1, p, p+1, and each with bit 255 set (which
/// X25519 ignores, RFC 7748 section 5).
fn low_order_encodings() -> Vec<[u8; 32]> {
    let hexes = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    let mut out = Vec::new();
    for h in hexes {
        let u: [u8; 32] = hex::decode(h).unwrap().try_into().unwrap();
        let mut high = u;
        high[31] |= 0x80;
        out.push(u);
        out.push(high);
    }
    out
}

#[test]
fn x25519_refuses_every_low_order_encoding() {
    let encodings = low_order_encodings();
    assert_eq!(encodings.len(), 14);
    for u in encodings {
        let r = EphemeralSecret::generate().unwrap().diffie_hellman(&u);
        assert!(
            matches!(r, Err(CryptoError::NonContributory)),
            "{} accepted",
            hex::encode(u)
        );
    }
}

#[test]
fn x25519_fresh_pair_agrees() {
    let a = EphemeralSecret::generate().unwrap();
    let b = EphemeralSecret::generate().unwrap();
    let (ap, bp) = (*a.public_key(), *b.public_key());
    assert_ne!(ap, bp);
    let s1 = a.diffie_hellman(&bp).unwrap();
    let s2 = b.diffie_hellman(&ap).unwrap();
    assert_eq!(s1.expose(), s2.expose());
}

#[test]
fn ed25519_refusals() {
    let key = SigningKey::generate().unwrap();
    let vk = key.verifying_key();
    let sig = key.sign(b"message").unwrap();
    vk.verify(b"message", &sig).unwrap();

    assert!(matches!(
        vk.verify(b"messagE", &sig),
        Err(CryptoError::BadSignature)
    ));
    let other = SigningKey::generate().unwrap().verifying_key();
    assert!(matches!(
        other.verify(b"message", &sig),
        Err(CryptoError::BadSignature)
    ));

    // Malformed signatures: wrong length, a flipped bit, S not reduced (S >= L).
    assert!(matches!(
        Signature::from_bytes(&[0; 63]),
        Err(CryptoError::InvalidLength {
            expected: 64,
            got: 63,
            ..
        })
    ));
    let mut flipped = *sig.as_bytes();
    flipped[10] ^= 4;
    assert!(vk
        .verify(b"message", &Signature::from_bytes(&flipped).unwrap())
        .is_err());
    let mut high_s = *sig.as_bytes();
    high_s[63] = 0xff;
    assert!(vk
        .verify(b"message", &Signature::from_bytes(&high_s).unwrap())
        .is_err());

    // Malformed public keys: wrong length, and 32 bytes that are no point.
    assert!(matches!(
        VerifyingKey::from_bytes(&[1; 31]),
        Err(CryptoError::InvalidLength {
            expected: 32,
            got: 31,
            ..
        })
    ));
    let mut not_a_point = [0xffu8; 32];
    not_a_point[31] = 0x7f; // y = 2^255 - 1 is not canonical
    let bogus = VerifyingKey::from_bytes(&not_a_point).unwrap();
    assert!(matches!(
        bogus.verify(b"message", &sig),
        Err(CryptoError::BadSignature)
    ));
}

#[test]
fn fingerprint_has_openssh_form_and_parses_back() {
    let vk = SigningKey::generate().unwrap().verifying_key();
    let fp = vk.fingerprint().to_string();
    assert!(fp.starts_with("SHA256:"));
    assert_eq!(fp.len(), 7 + 43);
    assert!(!fp.ends_with('='));
    assert_eq!(Fingerprint::parse(&fp).unwrap(), vk.fingerprint());
    assert!(Fingerprint::parse("MD5:abc").is_err());
    assert!(Fingerprint::parse("SHA256:abc").is_err());
    // RFC 8032 test 1 public key, fingerprint computed independently by
    // `ssh-keygen -lf` on the line `ssh-ed25519 <base64 of uint32 11,
    // "ssh-ed25519", uint32 32, d75a...511a>`.
    let rfc = VerifyingKey::from_bytes(
        &hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap(),
    )
    .unwrap();
    assert_eq!(rfc.fingerprint().to_string(), RFC8032_TEST1_FINGERPRINT);
}

const RFC8032_TEST1_FINGERPRINT: &str = "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8";

#[test]
fn secrets_never_print() {
    let s = Secret::<32>::from_slice(&[0xab; 32]).unwrap();
    assert_eq!(format!("{s:?}"), "[redacted]");
    let key = AeadKey::from_slice(&[0xcd; 32]).unwrap();
    assert!(!format!("{:?}", Aes256Gcm::new(&key).unwrap()).contains("cd"));
    let seed = Secret::from_slice(&[0x5a; 32]).unwrap();
    let sk = SigningKey::from_seed(&seed).unwrap();
    let dbg = format!("{sk:?}");
    assert!(dbg.contains("[redacted]") && !dbg.contains("5a5a"), "{dbg}");
    let eph = EphemeralSecret::generate().unwrap();
    assert_eq!(format!("{eph:?}"), "EphemeralSecret([redacted])");
    let prk = hkdf::extract(b"salt", b"ikm").unwrap();
    assert_eq!(format!("{prk:?}"), "[redacted]");
    let r: Secret<16> = rand::secret().unwrap();
    assert_eq!(format!("{r:?}"), "[redacted]");
}

#[test]
fn identity_file_is_pkcs8_0600_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity");
    let key = SigningKey::generate().unwrap();
    keys::write_identity(&path, &key, "me@host").unwrap();

    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let status = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&path)
        .status()
        .expect("openssl command-line tool (installed by .ci/run)");
    assert!(status.success(), "openssl pkey could not read the key");

    let loaded = keys::load_identity(&path).unwrap();
    assert_eq!(loaded.verifying_key(), key.verifying_key());

    let pub_line = std::fs::read_to_string(keys::public_path(&path)).unwrap();
    let parsed = PublicKeyLine::parse(&pub_line).unwrap();
    assert_eq!(parsed.key, key.verifying_key());
    assert_eq!(parsed.comment, "me@host");
    assert!(pub_line.starts_with("sft-ed25519 "));
    assert_eq!(
        keys::fingerprint_of_file(&path).unwrap(),
        keys::fingerprint_of_file(&keys::public_path(&path)).unwrap()
    );

    let again = keys::write_identity(&path, &SigningKey::generate().unwrap(), "");
    assert!(matches!(again, Err(KeyError::Exists(_))));
    assert_eq!(
        keys::load_identity(&path).unwrap().verifying_key(),
        key.verifying_key()
    );
}

#[test]
fn identity_file_readable_by_others_is_refused_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity");
    keys::write_identity(&path, &SigningKey::generate().unwrap(), "").unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = keys::load_identity(&path).unwrap_err();
        assert!(matches!(err, KeyError::TooOpen { mode: m, .. } if m == mode));
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    keys::load_identity(&path).unwrap();
}

#[test]
fn public_key_line_rejects_garbage() {
    assert!(PublicKeyLine::parse("ssh-ed25519 AAAA").is_err());
    assert!(PublicKeyLine::parse("sft-ed25519").is_err());
    assert!(PublicKeyLine::parse("sft-ed25519 !!!").is_err());
    assert!(PublicKeyLine::parse("sft-ed25519 AAAA").is_err()); // 3 bytes
}

#[test]
fn ssh_and_sft_lines_of_one_key_are_the_same_key() {
    let vk = SigningKey::generate().unwrap().verifying_key();
    let sft_line = format!("sft-ed25519 {} a", STANDARD.encode(vk.as_bytes()));
    let ssh_line = format!("ssh-ed25519 {} b c", STANDARD.encode(vk.ssh_blob()));
    let (a, b) = (
        PublicKeyLine::parse(&sft_line).unwrap(),
        PublicKeyLine::parse(&ssh_line).unwrap(),
    );
    assert_eq!(a.key, vk);
    assert_eq!(b.key, vk);
    assert_eq!(b.comment, "b c");
    assert_eq!(a.key.fingerprint(), b.key.fingerprint());
    // The raw 32 bytes under the ssh-ed25519 tag are not a blob.
    let raw_as_ssh = format!("ssh-ed25519 {}", STANDARD.encode(vk.as_bytes()));
    assert!(PublicKeyLine::parse(&raw_as_ssh).is_err());
    for t in [
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "sk-ssh-ed25519@openssh.com",
        "ssh-dss",
    ] {
        let err = PublicKeyLine::parse(&format!("{t} AAAA x")).unwrap_err();
        assert!(
            err.starts_with(&format!("key type {t} is not supported")),
            "{err}"
        );
    }
}

#[test]
fn stats_count_calls_bytes_and_failures() {
    let before = stats::snapshot();
    let key = AeadKey::from_slice(&KEY).unwrap();
    let mut gcm = Aes256Gcm::new(&key).unwrap();
    let mut buf = vec![0u8; 1000];
    let tag = gcm.seal_in_place(&IV, b"", &mut buf).unwrap();
    let mut bad = tag;
    bad[0] ^= 1;
    assert!(gcm.open_in_place(&IV, b"", &mut buf, &bad).is_err());
    let after = stats::snapshot();
    // Other tests run in parallel threads, so counters only grow by at least this much.
    let seal = (before.get(Op::AeadSeal), after.get(Op::AeadSeal));
    assert!(seal.1.calls > seal.0.calls && seal.1.bytes >= seal.0.bytes + 1000);
    let open = (before.get(Op::AeadOpen), after.get(Op::AeadOpen));
    assert!(open.1.failures > open.0.failures);
    assert_eq!(after.iter().count(), Op::ALL.len());
}
