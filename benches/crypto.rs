//! Throughput of the crypto core: AES-256-GCM seal and open at record
//! sizes, X25519 and Ed25519 operations per second, one random draw (with
//! its continuous test) and one run of the power-on self-tests.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sft::crypto::aead::{AeadKey, Aes256Gcm};
use sft::crypto::ed25519::SigningKey;
use sft::crypto::hash::Sha256;
use sft::crypto::x25519::EphemeralSecret;
use sft::crypto::{hkdf, rand, selftest};

const SIZES: [usize; 4] = [4 << 10, 16 << 10, 64 << 10, 1 << 20];

fn aead(c: &mut Criterion) {
    let key = AeadKey::from_slice(&[0x42; 32]).unwrap();
    let mut gcm = Aes256Gcm::new(&key).unwrap();
    let nonce = [7u8; 12];
    let aad = [0u8; 16];
    let mut group = c.benchmark_group("aes-256-gcm");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0u8; size];
        group.bench_with_input(BenchmarkId::new("seal", size), &size, |b, _| {
            b.iter(|| gcm.seal_in_place(&nonce, &aad, &mut buf).unwrap())
        });
        let mut sealed = vec![0u8; size];
        let tag = gcm.seal_in_place(&nonce, &aad, &mut sealed).unwrap();
        group.bench_with_input(BenchmarkId::new("open", size), &size, |b, _| {
            // Opening in place turns the buffer into plaintext; re-seal state
            // by copying the ciphertext back (a memcpy, small next to GCM).
            let mut work = sealed.clone();
            b.iter(|| {
                work.copy_from_slice(&sealed);
                gcm.open_in_place(&nonce, &aad, &mut work, &tag).unwrap()
            })
        });
    }
    group.finish();
}

fn asymmetric(c: &mut Criterion) {
    let mut group = c.benchmark_group("asymmetric");
    let peer = *EphemeralSecret::generate().unwrap().public_key();
    group.bench_function("x25519 keygen+derive", |b| {
        b.iter(|| {
            EphemeralSecret::generate()
                .unwrap()
                .diffie_hellman(&peer)
                .unwrap()
        })
    });
    let key = SigningKey::generate().unwrap();
    let vk = key.verifying_key();
    let msg = [0u8; 32];
    let sig = key.sign(&msg).unwrap();
    group.bench_function("ed25519 sign", |b| b.iter(|| key.sign(&msg).unwrap()));
    group.bench_function("ed25519 verify", |b| {
        b.iter(|| vk.verify(&msg, &sig).unwrap())
    });
    group.finish();
}

/// The handshake's small operations: one HKDF-Expand of 32 bytes (13 per
/// handshake), and a fresh SHA-256 of 64 bytes (each transcript hash and
/// each small file's hash starts one).
fn derivations(c: &mut Criterion) {
    let mut group = c.benchmark_group("derivations");
    let prk = hkdf::extract(b"salt", &[7u8; 32]).unwrap();
    group.bench_function("hkdf expand 32 bytes", |b| {
        b.iter(|| {
            hkdf::expand::<32>(&prk, b"sft/5 c hs key 0123456789abcdef0123456789abcdef").unwrap()
        })
    });
    group.bench_function("sha256 new+64 bytes+finish", |b| {
        b.iter(|| {
            let mut h = Sha256::new().unwrap();
            h.update(&[1u8; 64]).unwrap();
            h.finish().unwrap()
        })
    });
    group.finish();
}

fn checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("checks");
    group.bench_function("rand::fill 32 bytes", |b| {
        let mut buf = [0u8; 32];
        b.iter(|| rand::fill(&mut buf).unwrap())
    });
    // What `power_on` costs a process, less OpenSSL's own initialisation.
    group.bench_function("selftest::run (every power-on check)", |b| {
        b.iter(selftest::run)
    });
    group.finish();
}

criterion_group!(benches, aead, asymmetric, derivations, checks);
criterion_main!(benches);
