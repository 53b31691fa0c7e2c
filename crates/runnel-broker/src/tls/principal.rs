//! Who a TLS client is: Kafka's `KafkaPrincipal` and the distinguished name of a client
//! certificate's subject, formatted exactly as Java's `X500Principal.getName()` (RFC 2253 style)
//! prints it, since that string is what ssl.principal.mapping.rules match and ACLs name.
//!
//! Java's rules, kept here: RDNs in reverse order of the certificate's encoding; the AVAs of a
//! multi-valued RDN joined by `+` in encoded order; keywords only for CN, C, L, ST, O, OU,
//! STREET, DC and UID, any other type as its dotted OID with the value as `#` and the hex of
//! its DER encoding (so an emailAddress prints as `1.2.840.113549.1.9.1=#16...`); a value that
//! is not a Java directory string (PrintableString, TeletexString, IA5String, GeneralString,
//! BMPString, UTF8String) also prints as `#hex`; `, = + < > # ; " \` are escaped with a
//! backslash, NUL as `\00`, and leading or trailing spaces (and CRs) are escaped.

use std::fmt;

use x509_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Kafka's `KafkaPrincipal`: a type and a name, printed `User:name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KafkaPrincipal {
    pub principal_type: String,
    pub name: String,
}

impl KafkaPrincipal {
    /// Kafka's principal type for users.
    pub const USER_TYPE: &'static str = "User";
    /// The name of a client that presented no identity.
    pub const ANONYMOUS_NAME: &'static str = "ANONYMOUS";

    pub fn user(name: impl Into<String>) -> KafkaPrincipal {
        KafkaPrincipal { principal_type: Self::USER_TYPE.to_string(), name: name.into() }
    }

    /// `User:ANONYMOUS`: every PLAINTEXT client, and TLS clients without a certificate.
    pub fn anonymous() -> KafkaPrincipal {
        Self::user(Self::ANONYMOUS_NAME)
    }

    pub fn is_anonymous(&self) -> bool {
        self.principal_type == Self::USER_TYPE && self.name == Self::ANONYMOUS_NAME
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

/// Why a certificate's subject could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the client certificate's subject: {0}")]
pub struct SubjectError(String);

/// The RFC 2253 keywords Java prints, by OID.
const KEYWORDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// Characters Java escapes anywhere in a value.
const ESCAPED: &str = ",=+<>#;\"\\";

/// The subject of a DER certificate as Java's `X500Principal.getName()` prints it.
pub fn subject_name(certificate_der: &[u8]) -> Result<String, SubjectError> {
    let (_, certificate) = X509Certificate::from_der(certificate_der).map_err(|error| SubjectError(error.to_string()))?;
    let rdns: Vec<String> = certificate
        .subject()
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|ava| format_ava(&ava.attr_type().to_id_string(), ava.attr_value()))
                .collect::<Result<Vec<String>, SubjectError>>()
                .map(|avas| avas.join("+"))
        })
        .collect::<Result<_, _>>()?;
    Ok(rdns.into_iter().rev().collect::<Vec<_>>().join(","))
}

fn format_ava(oid: &str, value: &Any<'_>) -> Result<String, SubjectError> {
    let keyword = KEYWORDS.iter().find(|(known, _)| *known == oid).map(|(_, keyword)| *keyword);
    let text = decode_directory_string(value);
    match (keyword, text) {
        (Some(keyword), Some(text)) => Ok(format!("{keyword}={}", escape_value(&text))),
        (keyword, _) => {
            let der = value.to_der_vec().map_err(|error| SubjectError(error.to_string()))?;
            let hex: String = der.iter().map(|byte| format!("{byte:02x}")).collect();
            Ok(format!("{}=#{hex}", keyword.unwrap_or(oid)))
        }
    }
}

/// The value as text, for the string types Java prints as text; `None` for the rest.
fn decode_directory_string(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::GeneralString => {
            Some(String::from_utf8_lossy(data).into_owned())
        }
        // Java decodes T61 as ISO-8859-1.
        Tag::T61String => Some(data.iter().map(|&byte| char::from(byte)).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = data.chunks(2).map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])).collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

fn escape_value(text: &str) -> String {
    let mut escaped: Vec<(bool, char)> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' {
            escaped.push((true, '0'));
            escaped.push((false, '0'));
        } else {
            escaped.push((ESCAPED.contains(c), c));
        }
    }
    let is_blank = |c: char| c == ' ' || c == '\r';
    let lead = escaped.iter().take_while(|(_, c)| is_blank(*c)).count();
    let trail = escaped.iter().rev().take_while(|(_, c)| is_blank(*c)).count();
    let count = escaped.len();
    let mut out = String::with_capacity(count + 4);
    for (i, (escape, c)) in escaped.into_iter().enumerate() {
        if escape || i < lead || i >= count - trail {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(names: &[(rcgen::DnType, rcgen::DnValue)]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        for (kind, value) in names {
            dn.push(kind.clone(), value.clone());
        }
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("certificate").der().to_vec()
    }

    fn utf8(text: &str) -> rcgen::DnValue {
        rcgen::DnValue::Utf8String(text.to_string())
    }

    #[test]
    fn rdns_print_in_reverse_order_with_java_keywords() {
        let der = cert_with(&[
            (rcgen::DnType::OrganizationName, utf8("runnel")),
            (rcgen::DnType::OrganizationalUnitName, utf8("test")),
            (rcgen::DnType::CommonName, utf8("alice")),
        ]);
        assert_eq!(subject_name(&der).expect("subject"), "CN=alice,OU=test,O=runnel");
    }

    #[test]
    fn special_characters_and_edge_spaces_are_escaped_as_java_does() {
        let der = cert_with(&[(rcgen::DnType::CommonName, utf8(" a,b+c=d#e;f<g>\"h\\ "))]);
        assert_eq!(subject_name(&der).expect("subject"), r#"CN=\ a\,b\+c\=d\#e\;f\<g\>\"h\\\ "#);
    }

    #[test]
    fn types_without_an_rfc2253_keyword_print_as_oid_and_der_hex() {
        let email = rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]);
        let der = cert_with(&[(email, rcgen::DnValue::Ia5String("a@b".try_into().expect("ia5"))), (rcgen::DnType::CommonName, utf8("x"))]);
        assert_eq!(subject_name(&der).expect("subject"), "CN=x,1.2.840.113549.1.9.1=#1603614062");
    }

    #[test]
    fn country_and_printable_strings_use_keywords() {
        let der = cert_with(&[
            (rcgen::DnType::CountryName, rcgen::DnValue::PrintableString("DE".try_into().expect("printable"))),
            (rcgen::DnType::LocalityName, utf8("Köln")),
        ]);
        assert_eq!(subject_name(&der).expect("subject"), "L=Köln,C=DE");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(subject_name(&[0x30, 0x03, 0x01]).is_err());
        assert!(subject_name(&[]).is_err());
    }

    #[test]
    fn anonymous_prints_as_kafka_does() {
        assert_eq!(KafkaPrincipal::anonymous().to_string(), "User:ANONYMOUS");
        assert!(KafkaPrincipal::anonymous().is_anonymous());
        assert!(!KafkaPrincipal::user("CN=a").is_anonymous());
    }
}
