//! What the check needs from an X.509 certificate ([RFC 5280]), parsed with
//! `x509-parser`: names, serial, validity, whether it is self-signed or a CA,
//! and its subject alternative names for host-name matching ([RFC 6125]).
//! Also splits certificate files (PEM with any number of `CERTIFICATE`
//! blocks, or DER) into DER certificates.
//!
//! [RFC 5280]: https://www.rfc-editor.org/rfc/rfc5280
//! [RFC 6125]: https://www.rfc-editor.org/rfc/rfc6125#section-6.4

use std::net::IpAddr;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Name};

/// The facts about one certificate the check reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's common name, or the whole subject DN when it has none.
    pub subject: String,
    /// The issuer's common name, or the whole issuer DN when it has none.
    pub issuer: String,
    /// Serial number in upper-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity (last valid second), Unix seconds.
    pub not_after: i64,
    /// Subject and issuer are the same name (and, when both are present, the
    /// authority and subject key identifiers agree).
    pub self_signed: bool,
    /// `basicConstraints CA:TRUE`.
    pub is_ca: bool,
    /// DNS names from the subject alternative name extension, lower-case.
    pub dns_names: Vec<String>,
    /// IP addresses from the subject alternative name extension.
    pub ip_addresses: Vec<IpAddr>,
    /// DER of the subject name, to relate certificates in a chain.
    pub subject_der: Vec<u8>,
    /// DER of the issuer name.
    pub issuer_der: Vec<u8>,
}

/// Why certificate data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The DER is not an X.509 certificate.
    #[error("not a valid X.509 certificate: {0}")]
    Parse(String),
    /// A PEM block is malformed.
    #[error("malformed PEM: {0}")]
    Pem(String),
}

// === impl CertInfo ===

impl CertInfo {
    /// Parses one DER-encoded certificate.
    ///
    /// # Errors
    ///
    /// [`CertError::Parse`] when `der` is not a certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|error| CertError::Parse(error.to_string()))?;
        let (dns_names, ip_addresses) = alternative_names(&cert);
        let subject_der = cert.subject().as_raw().to_vec();
        let issuer_der = cert.issuer().as_raw().to_vec();
        Ok(Self {
            subject: display_name(cert.subject()),
            issuer: display_name(cert.issuer()),
            serial: serial_hex(cert.raw_serial()),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            self_signed: subject_der == issuer_der && key_ids_agree(&cert),
            is_ca: cert.is_ca(),
            dns_names,
            ip_addresses,
            subject_der,
            issuer_der,
        })
    }

    /// Whether the certificate is valid for `name` (a DNS name or an IP
    /// address), by its subject alternative names as TLS clients check it:
    /// exact match, or a `*.` wildcard standing for exactly the leftmost
    /// label. The subject's common name is not considered, as no current
    /// client does.
    #[must_use]
    pub fn matches_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let unbracketed = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return self.ip_addresses.contains(&ip);
        }
        self.dns_names.iter().any(|pattern| {
            let pattern = pattern.trim_end_matches('.');
            match pattern.strip_prefix("*.") {
                Some(suffix) => name
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => pattern == name,
            }
        })
    }

    /// Whether this certificate names `other` as its issuer.
    #[must_use]
    pub fn issued_by(&self, other: &CertInfo) -> bool {
        self.issuer_der == other.subject_der
    }
}

/// The common name of `name`, or the whole DN when it has none.
fn display_name(name: &X509Name<'_>) -> String {
    name.iter_common_name()
        .find_map(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| name.to_string())
}

/// Upper-case hex without the DER sign-padding zero bytes (`00` for zero).
fn serial_hex(raw: &[u8]) -> String {
    let significant = raw
        .iter()
        .position(|byte| *byte != 0)
        .map_or(&[0][..], |start| &raw[start..]);
    significant
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

/// False only when both key identifiers are present and differ: a
/// certificate whose issuer name equals its subject but that was signed by
/// another key (a re-keyed CA) is not self-signed.
fn key_ids_agree(cert: &X509Certificate<'_>) -> bool {
    let mut subject_key = None;
    let mut authority_key = None;
    for extension in cert.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key = Some(id.0),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key = aki.key_identifier.as_ref().map(|id| id.0);
            }
            _ => {}
        }
    }
    match (subject_key, authority_key) {
        (Some(subject), Some(authority)) => subject == authority,
        _ => true,
    }
}

fn alternative_names(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push(dns.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(octets) = <[u8; 4]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(octets));
                    } else if let Ok(octets) = <[u8; 16]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(octets));
                    }
                }
                _ => {}
            }
        }
    }
    (dns_names, ip_addresses)
}

/// Splits the contents of a certificate file into DER certificates: every
/// `CERTIFICATE` (or `X509 CERTIFICATE` / `TRUSTED CERTIFICATE`) block of a
/// PEM file, other blocks (keys, CRLs) ignored; or the certificates of a
/// DER file (one, or several concatenated).
///
/// # Errors
///
/// [`CertError::Pem`] for a malformed PEM block and [`CertError::Parse`] for
/// DER that is not a certificate. A PEM file without certificate blocks
/// yields an empty list.
pub fn split_certificates(contents: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    if contents.first() == Some(&0x30) {
        let mut rest = contents;
        let mut ders = Vec::new();
        while !rest.is_empty() {
            let (after, _) = X509Certificate::from_der(rest)
                .map_err(|error| CertError::Parse(error.to_string()))?;
            ders.push(rest[..rest.len() - after.len()].to_vec());
            rest = after;
        }
        return Ok(ders);
    }
    let mut ders = Vec::new();
    for block in Pem::iter_from_buffer(contents) {
        let block = block.map_err(|error| CertError::Pem(error.to_string()))?;
        if matches!(
            block.label.as_str(),
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE"
        ) {
            ders.push(block.contents);
        }
    }
    Ok(ders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_certs::{self, fixture};

    #[test]
    fn reads_a_real_expired_self_signed_certificate() {
        let ders = split_certificates(&fixture("fluent-bit_certificate_expired-2023-08-17.pem"))
            .expect("valid PEM");
        assert_eq!(ders.len(), 1);
        let info = CertInfo::from_der(&ders[0]).expect("valid certificate");
        assert_eq!(info.subject, "leo.vcap.me");
        assert_eq!(info.issuer, "leo.vcap.me");
        assert_eq!(info.serial, "0A5DB86A8421DC7BB239B6E88AFB28CCA28E6F77");
        // notAfter=Aug 17 13:49:02 2023 GMT
        assert_eq!(info.not_after, 1_692_280_142);
        assert!(info.self_signed);
        assert!(info.is_ca);
    }

    #[test]
    fn a_leaf_without_common_name_shows_its_whole_subject() {
        let ders = split_certificates(&fixture("nri-kubernetes_server+3_expired-2026-09-10.pem"))
            .expect("valid PEM");
        let leaf = CertInfo::from_der(&ders[0]).expect("valid certificate");
        assert!(
            leaf.subject.contains("O=mkcert development certificate"),
            "{}",
            leaf.subject
        );
        assert_eq!(
            leaf.issuer,
            "mkcert dbudziwojski@PV2GJCH2VF (Daniel Budziwojski)"
        );
        assert!(!leaf.self_signed);
        assert!(!leaf.is_ca);
        assert!(leaf.matches_name("localhost"));
        assert!(leaf.matches_name("127.0.0.1"));
        assert!(leaf.matches_name("::1"));
        assert!(!leaf.matches_name("example.com"));
        let root = split_certificates(&fixture("nri-kubernetes_rootCA.pem")).expect("valid PEM");
        let root = CertInfo::from_der(&root[0]).expect("valid certificate");
        assert!(leaf.issued_by(&root));
        assert!(root.self_signed);
    }

    #[test]
    fn serial_zero_is_printed_as_00() {
        let ders = split_certificates(&fixture("telegraf_googlecloud_cert_expired-2005-08-14.pem"))
            .expect("valid PEM");
        assert_eq!(CertInfo::from_der(&ders[0]).expect("valid").serial, "00");
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        let chain = test_certs::Chain::new(&["*.example.com", "example.org"], 0, 90);
        let leaf = CertInfo::from_der(&chain.leaf_der).expect("valid");
        assert!(leaf.matches_name("www.example.com"));
        assert!(leaf.matches_name("WWW.Example.com."));
        assert!(!leaf.matches_name("example.com"));
        assert!(!leaf.matches_name("a.b.example.com"));
        assert!(leaf.matches_name("example.org"));
        assert!(!leaf.matches_name("www.example.org"));
    }

    #[test]
    fn pem_bundles_keep_order_and_skip_keys_and_der_files_split() {
        let chain = test_certs::Chain::new(&["a.example"], 0, 90);
        let bundle = format!(
            "{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{}",
            chain.leaf_pem(),
            chain.intermediate_pem()
        );
        let ders = split_certificates(bundle.as_bytes()).expect("valid bundle");
        assert_eq!(
            ders,
            vec![chain.leaf_der.clone(), chain.intermediate_der.clone()]
        );
        let mut concatenated = chain.leaf_der.clone();
        concatenated.extend_from_slice(&chain.root_der);
        let ders = split_certificates(&concatenated).expect("valid DER");
        assert_eq!(ders, vec![chain.leaf_der.clone(), chain.root_der.clone()]);
        assert!(
            split_certificates(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .expect("valid PEM")
                .is_empty()
        );
        assert!(split_certificates(&[0x30, 0x03, 0x01, 0x02, 0x03]).is_err());
    }
}
