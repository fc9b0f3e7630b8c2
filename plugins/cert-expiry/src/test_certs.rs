//! Certificates for tests: real fixtures from public test suites
//! (`fixtures/`), and chains made on the spot with rcgen, dated relative to
//! [`NOW`].

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use time::OffsetDateTime;

/// The time tests run at: 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;

/// Seconds per day.
const DAY: i64 = 86_400;

/// The bytes of `fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"))
}

/// A root CA, an intermediate CA and a leaf, in DER and PEM.
pub struct Chain {
    pub leaf_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    pub root_der: Vec<u8>,
    leaf_pem: String,
    intermediate_pem: String,
}

fn at(days_from_now: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW + days_from_now * DAY).expect("valid test time")
}

fn params(
    common_name: &str,
    sans: &[&str],
    from_days: i64,
    to_days: i64,
    ca: bool,
) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|san| (*san).to_owned()).collect();
    let mut params = CertificateParams::new(sans).expect("valid SANs");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.not_before = at(from_days);
    params.not_after = at(to_days);
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    params
}

impl Chain {
    /// A leaf for `sans` valid from `leaf_from_days` to `leaf_to_days`
    /// (relative to [`NOW`]), issued by an intermediate valid for a year,
    /// issued by a root valid for ten.
    pub fn new(sans: &[&str], leaf_from_days: i64, leaf_to_days: i64) -> Self {
        Self::with_intermediate_days(sans, leaf_from_days, leaf_to_days, 365)
    }

    /// As [`Chain::new`], with the intermediate expiring `intermediate_to_days`
    /// from now.
    pub fn with_intermediate_days(
        sans: &[&str],
        leaf_from_days: i64,
        leaf_to_days: i64,
        intermediate_to_days: i64,
    ) -> Self {
        let root_key = KeyPair::generate().expect("root key");
        let root =
            CertifiedIssuer::self_signed(params("Test Root CA", &[], -1000, 3650, true), root_key)
                .expect("root");
        let intermediate_key = KeyPair::generate().expect("intermediate key");
        let intermediate = CertifiedIssuer::signed_by(
            params(
                "Test Intermediate CA",
                &[],
                -500,
                intermediate_to_days,
                true,
            ),
            intermediate_key,
            &root,
        )
        .expect("intermediate");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_cn = sans.first().copied().unwrap_or("leaf");
        let leaf = params(leaf_cn, sans, leaf_from_days, leaf_to_days, false)
            .signed_by(&leaf_key, &intermediate)
            .expect("leaf");
        Self {
            leaf_der: leaf.der().to_vec(),
            intermediate_der: intermediate.der().to_vec(),
            root_der: root.der().to_vec(),
            leaf_pem: leaf.pem(),
            intermediate_pem: intermediate.pem(),
        }
    }

    pub fn leaf_pem(&self) -> &str {
        &self.leaf_pem
    }

    pub fn intermediate_pem(&self) -> &str {
        &self.intermediate_pem
    }
}

/// A self-signed leaf (not a CA) for `sans`, valid until `to_days` from now.
pub fn self_signed(sans: &[&str], to_days: i64) -> Vec<u8> {
    let key = KeyPair::generate().expect("key");
    let common_name = sans.first().copied().unwrap_or("self");
    params(common_name, sans, -30, to_days, false)
        .self_signed(&key)
        .expect("self-signed")
        .der()
        .to_vec()
}
