//! RFC 3161 time stamps for sealed documents: the request to the configured time-stamping
//! authority, the checks of its answer (granted, our digest, our nonce), and the full offline
//! verification `folio archive verify` runs (CMS signed attributes, the signing-certificate
//! binding, the signature, the TSA's chain at the time of the stamp).
//!
//! * ASN.1 types: hand-written `der` 0.8 derive structs (RFC 3161 / RFC 5652 / RFC 5035 subset);
//!   the `x509-tsp` crate rejects fractional genTimes and some refusals.
//! * Crypto: `rustls-webpki` (ring) for the signer-certificate chain and the signature,
//!   `sha2`/`sha1` for digests. No OpenSSL.

use std::time::Duration;

use der::{
    asn1::{BitString, Int, ObjectIdentifier, OctetString, SetOfVec, Uint},
    Any, Decode, Encode, Sequence, Tag, Tagged,
};
use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use sha2::{Digest, Sha256, Sha384, Sha512};

// ---------------------------------------------------------------- OIDs
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// id-kp-timeStamping 1.3.6.1.5.5.7.3.8, DER value bytes (what webpki's KeyUsage wants).
const EKU_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

// ---------------------------------------------------------------- ASN.1 types

/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
#[derive(Clone, Debug, Eq, PartialEq, Sequence, der::ValueOrd)]
pub struct AlgorithmIdentifier {
    pub oid: ObjectIdentifier,
    #[asn1(optional = "true")]
    pub parameters: Option<Any>,
}

/// MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifier,
    pub hashed_message: OctetString,
}

/// TimeStampReq (RFC 3161 §2.4.1). `extensions [0] IMPLICIT` omitted: we never send any.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    pub version: u8, // v1(1)
    pub message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    pub nonce: Option<Uint>,
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
}

/// PKIStatusInfo (RFC 3161 §2.4.2). failInfo kept as a raw BIT STRING on purpose
/// (cmpv2 0.2's FlagSet<u16> cannot decode bits >= 16, e.g. unacceptedExtension).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    pub status: u8, // 0 granted, 1 grantedWithMods, 2 rejection, 3 waiting, 4/5 revocation*
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>, // PKIFreeText ::= SEQUENCE OF UTF8String
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ContentInfo OPTIONAL }
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    pub status: PkiStatusInfo,
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<Any>, // kept raw: this is exactly the token DER we store
}

/// ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ContentInfo {
    pub content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub content: Any,
}

/// SignedData (RFC 5652 §5.1); certificate/CRL sets kept as raw elements.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SignedData {
    pub version: u8,
    pub digest_algorithms: Any, // SET OF AlgorithmIdentifier (unused)
    pub encap_content_info: EncapsulatedContentInfo,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub certificates: Option<Vec<Any>>, // each element: a Certificate SEQUENCE
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub crls: Option<Vec<Any>>,
    pub signer_infos: SetOfVec<SignerInfo>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EncapsulatedContentInfo {
    pub econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub econtent: Option<OctetString>,
}

/// SignerInfo (RFC 5652 §5.3). signedAttrs decoded as an order-preserving Vec so that
/// re-encoding reproduces the exact bytes the TSA signed.
#[derive(Clone, Debug, Eq, PartialEq, Sequence, der::ValueOrd)]
pub struct SignerInfo {
    pub version: u8,
    pub sid: Any, // IssuerAndSerialNumber or [0] SubjectKeyIdentifier (unused: ESS cert hash instead)
    pub digest_algorithm: AlgorithmIdentifier,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub signed_attrs: Option<Vec<Attribute>>,
    pub signature_algorithm: AlgorithmIdentifier,
    pub signature: OctetString,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub unsigned_attrs: Option<Vec<Attribute>>,
}

/// Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY }
#[derive(Clone, Debug, Eq, PartialEq, Sequence, der::ValueOrd)]
pub struct Attribute {
    pub oid: ObjectIdentifier,
    pub values: SetOfVec<Any>,
}

/// TSTInfo (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    /// GeneralizedTime kept raw: der's GeneralizedTime rejects fractional seconds
    /// ("20261122121652.912Z"), which OpenSSL emits with clock_precision_digits > 0.
    pub gen_time: Any,
    #[asn1(optional = "true")]
    pub accuracy: Option<Any>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Uint>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<Any>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub extensions: Option<Vec<Any>>,
}

/// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256,
///                            certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }
/// ESSCertID   ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial OPTIONAL }
/// Both decode with this struct (v1 simply never has the AlgorithmIdentifier).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertId {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifier>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<Any>,
}

/// SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), policies OPTIONAL }
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificate {
    pub certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    pub policies: Option<Any>,
}

// ---------------------------------------------------------------- client side

#[derive(Debug)]
pub struct TspError(pub String);
impl std::fmt::Display for TspError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for TspError {}
impl From<der::Error> for TspError {
    fn from(e: der::Error) -> Self {
        TspError(format!("DER: {e}"))
    }
}
fn err<T>(msg: impl Into<String>) -> Result<T, TspError> {
    Err(TspError(msg.into()))
}

/// Build a DER TimeStampReq for a SHA-256 digest, with a random 64-bit nonce and certReq=true.
pub fn build_request(sha256: &[u8; 32]) -> Result<(Vec<u8>, Uint), TspError> {
    let nonce = Uint::try_from(rand::random::<u64>())?; // Uint: positive, minimal, 0x00-padded
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: ID_SHA256,
                parameters: Some(Any::from(der::asn1::Null)), // NULL params, like OpenSSL
            },
            hashed_message: OctetString::new(sha256.to_vec())?,
        },
        req_policy: None,
        nonce: Some(nonce.clone()),
        cert_req: true,
    };
    Ok((req.to_der()?, nonce))
}

/// What we record in the archive.
#[derive(Clone, Debug)]
pub struct Sealed {
    pub token_der: Vec<u8>,
    pub gen_time: String, // as in the token, e.g. "20261122121524Z"
    pub gen_time_unix: Duration,
    pub serial_hex: String,
    pub policy: String,
}

/// Parse a TimeStampResp, require status granted(0)/grantedWithMods(1), then check the
/// token's TSTInfo against our digest and nonce. Signature is checked by `verify_token`.
pub fn check_response(
    resp_der: &[u8],
    sha256: &[u8; 32],
    nonce: &Uint,
) -> Result<Sealed, TspError> {
    let resp = TimeStampResp::from_der(resp_der)?;
    if resp.status.status > 1 {
        let text = resp.status.status_string.unwrap_or_default().join("; ");
        let bits = resp.status.fail_info.map(|b| {
            b.bits()
                .enumerate()
                .filter(|(_, set)| *set)
                .map(|(i, _)| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        });
        return err(format!(
            "TSA refused: status {} ({text}) failInfo bits [{}]",
            resp.status.status,
            bits.unwrap_or_default()
        ));
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| TspError("granted but no token".into()))?;
    let token_der = token.to_der()?;
    let (_, tst) = parse_token(&token_der)?;
    check_imprint(&tst, sha256)?;
    if tst.nonce.as_ref() != Some(nonce) {
        return err("nonce mismatch");
    }
    sealed_from(token_der, &tst)
}

fn check_imprint(tst: &TstInfo, sha256: &[u8; 32]) -> Result<(), TspError> {
    if tst.message_imprint.hash_algorithm.oid != ID_SHA256 {
        return err("messageImprint is not SHA-256");
    }
    if tst.message_imprint.hashed_message.as_bytes() != sha256 {
        return err("messageImprint does not match document digest");
    }
    Ok(())
}

fn sealed_from(token_der: Vec<u8>, tst: &TstInfo) -> Result<Sealed, TspError> {
    let (gen_time, gen_time_unix) = parse_gen_time(&tst.gen_time)?;
    Ok(Sealed {
        token_der,
        gen_time,
        gen_time_unix,
        serial_hex: hex(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
    })
}

/// Split a token (ContentInfo DER) into SignedData + TSTInfo.
pub fn parse_token(token_der: &[u8]) -> Result<(SignedData, TstInfo), TspError> {
    let ci = ContentInfo::from_der(token_der)?;
    if ci.content_type != ID_SIGNED_DATA {
        return err("token is not CMS SignedData");
    }
    let sd: SignedData = ci.content.decode_as()?;
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return err("eContentType is not id-ct-TSTInfo");
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| TspError("no eContent".into()))?;
    let tst = TstInfo::from_der(econtent.as_bytes())?;
    Ok((sd, tst))
}

/// "YYYYMMDDHHMMSS[.f+]Z" -> (text, unix duration)
pub fn parse_gen_time(any: &Any) -> Result<(String, Duration), TspError> {
    if any.tag() != Tag::GeneralizedTime {
        return err("genTime is not a GeneralizedTime");
    }
    let s = std::str::from_utf8(any.value()).map_err(|_| TspError("genTime not ASCII".into()))?;
    let b = s.as_bytes();
    if b.len() < 15 || !s.ends_with('Z') || !b[..14].iter().all(u8::is_ascii_digit) {
        return err(format!("bad genTime {s}"));
    }
    // The first 14 bytes are ASCII digits (checked above): every slice parses.
    let n = |r: std::ops::Range<usize>| s[r].parse::<u16>().unwrap_or(0);
    let dt = der::DateTime::new(
        n(0..4),
        n(4..6) as u8,
        n(6..8) as u8,
        n(8..10) as u8,
        n(10..12) as u8,
        n(12..14) as u8,
    )
    .map_err(|_| TspError(format!("bad genTime {s}")))?;
    let mut d = dt.unix_duration();
    if b[14] == b'.' {
        let frac = &s[15..s.len() - 1];
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return err(format!("bad genTime fraction {s}"));
        }
        // At most 9 digits (checked above): fits in a u64.
        d += Duration::from_nanos(
            frac.parse::<u64>().unwrap_or(0) * 10u64.pow(9 - frac.len() as u32),
        );
    } else if b.len() != 15 {
        return err(format!("bad genTime {s}"));
    }
    Ok((s.to_string(), d))
}

// ---------------------------------------------------------------- offline verification

/// Full offline verification of a stored token against the document digest:
/// TSTInfo imprint, CMS signedAttrs (contentType, messageDigest), ESS signing-cert binding,
/// signature with the signer cert, and signer chain to `anchors_der` with EKU timeStamping,
/// evaluated at genTime. `extra_certs_der`: configured TSA cert / intermediates, used when the
/// token carries no certificates (request made with certReq=false).
pub fn verify_token(
    token_der: &[u8],
    sha256: &[u8; 32],
    anchors_der: &[CertificateDer<'_>],
    extra_certs_der: &[CertificateDer<'_>],
) -> Result<Sealed, TspError> {
    let (sd, tst) = parse_token(token_der)?;
    check_imprint(&tst, sha256)?;
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| TspError("no eContent".into()))?
        .as_bytes();

    let si = match sd.signer_infos.as_slice() {
        [si] => si,
        _ => return err("expected exactly one SignerInfo"),
    };
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TspError("no signedAttrs".into()))?;

    // contentType attribute must be id-ct-TSTInfo
    let ct: ObjectIdentifier = first_value(attrs, ID_CONTENT_TYPE)?.decode_as()?;
    if ct != ID_CT_TST_INFO {
        return err("contentType attribute mismatch");
    }
    // messageDigest attribute must be H(eContent) with the SignerInfo digest algorithm
    let md: OctetString = first_value(attrs, ID_MESSAGE_DIGEST)?.decode_as()?;
    let dig_oid = si.digest_algorithm.oid;
    if md.as_bytes() != digest(dig_oid, econtent)?.as_slice() {
        return err("messageDigest attribute does not match TSTInfo");
    }

    // Candidate certs: embedded ones first, then configured ones.
    let mut certs: Vec<CertificateDer<'static>> = Vec::new();
    for c in sd.certificates.iter().flatten() {
        if c.tag() == Tag::Sequence {
            certs.push(CertificateDer::from(c.to_der()?));
        }
    }
    certs.extend(extra_certs_der.iter().map(|c| c.clone().into_owned()));

    // ESS binding: signingCertificateV2 (hash alg default sha256) or v1 (sha1).
    let signer = if let Ok(v) = first_value(attrs, ID_AA_SIGNING_CERTIFICATE_V2) {
        let sc: SigningCertificate = v.decode_as()?;
        let id = sc
            .certs
            .first()
            .ok_or_else(|| TspError("empty ESSCertIDv2".into()))?;
        let alg = id
            .hash_algorithm
            .as_ref()
            .map(|a| a.oid)
            .unwrap_or(ID_SHA256);
        find_cert(&certs, |c| Ok(digest(alg, c)? == id.cert_hash.as_bytes()))?
    } else if let Ok(v) = first_value(attrs, ID_AA_SIGNING_CERTIFICATE) {
        let sc: SigningCertificate = v.decode_as()?;
        let id = sc
            .certs
            .first()
            .ok_or_else(|| TspError("empty ESSCertID".into()))?;
        find_cert(&certs, |c| {
            Ok(sha1::Sha1::digest(c).as_slice() == id.cert_hash.as_bytes())
        })?
    } else {
        return err("no ESS signingCertificate(V2) attribute");
    };

    // Signature over DER(signedAttrs) with the [0] IMPLICIT tag replaced by SET (0x31).
    let mut tbs = attrs.to_der()?; // Vec<Attribute> => 0x30 <len> <original attribute bytes>
    tbs[0] = 0x31;
    let alg = sig_alg(si.signature_algorithm.oid, dig_oid)?;
    let ee = webpki::EndEntityCert::try_from(&signer)
        .map_err(|e| TspError(format!("signer cert: {e:?}")))?;
    ee.verify_signature(alg, &tbs, si.signature.as_bytes())
        .map_err(|e| TspError(format!("bad token signature: {e:?}")))?;

    // Chain: signer -> anchors, EKU id-kp-timeStamping, at genTime.
    let sealed = sealed_from(token_der.to_vec(), &tst)?;
    let anchors = anchors_der
        .iter()
        .map(|a| webpki::anchor_from_trusted_cert(a).map(|t| t.to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TspError(format!("trust anchor: {e:?}")))?;
    let intermediates: Vec<CertificateDer<'_>> =
        certs.iter().filter(|c| **c != signer).cloned().collect();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        UnixTime::since_unix_epoch(sealed.gen_time_unix),
        // NOT KeyUsage::required(): webpki applies the EKU policy to every cert of the path,
        // so `required` rejects chains whose intermediate CA has no EKU extension.
        webpki::KeyUsage::required_if_present(EKU_TIME_STAMPING),
        None,
        None,
    )
    .map_err(|e| TspError(format!("TSA certificate not trusted: {e:?}")))?;
    // RFC 3161 §2.3: the TSA cert MUST have EKU id-kp-timeStamping, marked critical.
    check_tsa_eku(signer.as_ref())?;
    Ok(sealed)
}

// Minimal X.509 walk to reach the extensions (only used for the EKU check).
#[derive(Sequence)]
struct CertificateLite {
    tbs: TbsLite,
    signature_algorithm: Any,
    signature: Any,
}
#[derive(Sequence)]
struct TbsLite {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<Any>,
    serial: Any,
    signature: Any,
    issuer: Any,
    validity: Any,
    subject: Any,
    spki: Any,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    issuer_uid: Option<BitString>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    subject_uid: Option<BitString>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}
#[derive(Sequence)]
struct Extension {
    oid: ObjectIdentifier,
    #[asn1(optional = "true")]
    critical: Option<bool>,
    value: OctetString,
}
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

fn check_tsa_eku(cert_der: &[u8]) -> Result<(), TspError> {
    let cert = CertificateLite::from_der(cert_der)?;
    let ext = cert
        .tbs
        .extensions
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.oid == ID_CE_EXT_KEY_USAGE)
        .ok_or_else(|| TspError("TSA cert has no extendedKeyUsage".into()))?;
    let ekus = Vec::<ObjectIdentifier>::from_der(ext.value.as_bytes())?;
    if ext.critical != Some(true) || ekus != [ID_KP_TIME_STAMPING] {
        return err("TSA cert EKU must be critical and only id-kp-timeStamping (RFC 3161 2.3)");
    }
    Ok(())
}

fn first_value(attrs: &[Attribute], oid: ObjectIdentifier) -> Result<&Any, TspError> {
    attrs
        .iter()
        .find(|a| a.oid == oid)
        .and_then(|a| a.values.as_slice().first())
        .ok_or_else(|| TspError(format!("missing signed attribute {oid}")))
}

fn find_cert(
    certs: &[CertificateDer<'static>],
    mut pred: impl FnMut(&[u8]) -> Result<bool, TspError>,
) -> Result<CertificateDer<'static>, TspError> {
    for c in certs {
        if pred(c.as_ref())? {
            return Ok(c.clone());
        }
    }
    err("signer certificate (ESS cert hash) not found in token or configuration")
}

fn digest(oid: ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, TspError> {
    Ok(match oid {
        o if o == ID_SHA256 => Sha256::digest(data).to_vec(),
        o if o == ID_SHA384 => Sha384::digest(data).to_vec(),
        o if o == ID_SHA512 => Sha512::digest(data).to_vec(),
        o => return err(format!("unsupported digest {o}")),
    })
}

/// CMS signatureAlgorithm (+ SignerInfo digestAlgorithm) -> webpki/ring verifier.
/// OpenSSL writes plain rsaEncryption for RSA signers, ecdsa-with-SHAxxx for EC.
fn sig_alg(
    sig: ObjectIdentifier,
    dig: ObjectIdentifier,
) -> Result<&'static dyn SignatureVerificationAlgorithm, TspError> {
    use webpki::ring as r;
    let rsa = sig == RSA_ENCRYPTION
        || sig == SHA256_WITH_RSA
        || sig == SHA384_WITH_RSA
        || sig == SHA512_WITH_RSA;
    Ok(match () {
        _ if rsa && dig == ID_SHA256 => r::RSA_PKCS1_2048_8192_SHA256,
        _ if rsa && dig == ID_SHA384 => r::RSA_PKCS1_2048_8192_SHA384,
        _ if rsa && dig == ID_SHA512 => r::RSA_PKCS1_2048_8192_SHA512,
        _ if sig == ECDSA_WITH_SHA256 => r::ECDSA_P256_SHA256, // P-384 key + SHA-256 would need ECDSA_P384_SHA256
        _ if sig == ECDSA_WITH_SHA384 => r::ECDSA_P384_SHA384,
        _ => return err(format!("unsupported signature algorithm {sig} / {dig}")),
    })
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------- HTTP (ureq 2, blocking)

pub fn post_request(url: &str, req_der: &[u8]) -> Result<Vec<u8>, TspError> {
    let resp = ureq::post(url)
        .set("Content-Type", "application/timestamp-query")
        .set("Accept", "application/timestamp-reply")
        .timeout(Duration::from_secs(30))
        .send_bytes(req_der)
        .map_err(|e| TspError(format!("TSA HTTP: {e}")))?;
    if resp.content_type() != "application/timestamp-reply" {
        return err(format!("unexpected content type {}", resp.content_type()));
    }
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader().take(1 << 20), &mut body)
        .map_err(|e| TspError(format!("TSA HTTP body: {e}")))?;
    Ok(body)
}
use std::io::Read as _;

/// The CA certificates (PEM) time stamps must chain to; none for an empty path.
pub fn anchors(path: &std::path::Path, key: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    if path.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("{key} {}: {e}", path.display()))
}
