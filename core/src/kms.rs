//! KMS key references in a destination policy: the forms AWS accepts and where each is usable.

use regex::Regex;

use crate::reader::Reader;
use crate::value::Text;

/// A KMS key reference, as far as its text tells.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyRef {
    KeyArn { region: String, account: String },
    AliasArn { region: String, account: String },
    KeyId,
    AliasName,
}

const PLACEHOLDERS: &[&str] = &["", "none", "null", "nil", "-", "default", "changeme"];

crate::error::refusal!(
    /// Why a text is not a usable KMS key reference.
    KeyError
);

/// Classifies `text`, or says why it is not a key reference.
pub fn classify(text: &str) -> Result<KeyRef, KeyError> {
    classify_text(text).map_err(KeyError)
}

fn classify_text(text: &str) -> Result<KeyRef, String> {
    if PLACEHOLDERS.contains(&text.trim().to_ascii_lowercase().as_str()) {
        return Err(format!(
            "is a placeholder ({text:?}), not a KMS key; remove the property or give the key's ARN"
        ));
    }
    let uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}";
    let arn = Regex::new(&format!(
        r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:kms:([a-z0-9-]+):(\d{{12}}):(key/(?:{uuid})|alias/[A-Za-z0-9/_-]+)$"
    ))
    .map_err(|e| e.to_string())?;
    if let Some(c) = arn.captures(text) {
        let region = c[2].to_string();
        let account = c[3].to_string();
        return Ok(if c[4].starts_with("key/") {
            KeyRef::KeyArn { region, account }
        } else {
            KeyRef::AliasArn { region, account }
        });
    }
    if Regex::new(&format!("^(?:{uuid})$"))
        .map_err(|e| e.to_string())?
        .is_match(text)
    {
        return Ok(KeyRef::KeyId);
    }
    if Regex::new(r"^alias/[A-Za-z0-9/_-]+$")
        .map_err(|e| e.to_string())?
        .is_match(text)
    {
        if text.starts_with("alias/aws/") {
            return Err(format!(
                "names the AWS-managed key {text:?}, which cannot be used for snapshots shared across accounts; use a customer-managed key"
            ));
        }
        return Ok(KeyRef::AliasName);
    }
    Err(format!(
        "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID), got {text:?}"
    ))
}

/// Validates KmsKeySource / KmsKeyDestination of a destination policy.
pub(crate) fn check_keys(
    r: &mut Reader,
    source_key: Option<&Text>,
    destination_key: Option<&Text>,
    destination_region: &Text,
    source_region: Option<&str>,
    same_region: Option<bool>,
) {
    let own_account = r.resolver.account_id.clone();
    if let Some(Text::Literal(text)) = source_key {
        match classify(text) {
            Ok(KeyRef::KeyArn { region, account }) => {
                if let Some(src) = source_region.filter(|s| *s != region) {
                    r.diag.error(
                        "KmsKeySource",
                        format!("is a key in {region}, but copies made in the source region {src} need a key there"),
                    );
                }
                check_owner(r, "KmsKeySource", &account, own_account.as_deref());
            }
            Ok(_) => r.diag.error(
                "KmsKeySource",
                format!("must be a full key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID): a key ID or alias is looked up in the caller's account and breaks cross-account copies, got {text:?}"),
            ),
            Err(why) => r.diag.error("KmsKeySource", why),
        }
    }
    if let Some(Text::Literal(text)) = destination_key {
        match classify(text) {
            Ok(KeyRef::KeyArn { region, account } | KeyRef::AliasArn { region, account }) => {
                if let Some(dest) = destination_region.literal().filter(|d| *d != region) {
                    r.diag.error(
                        "KmsKeyDestination",
                        format!("is a key in {region}, but copies are made in DestinationRegion {dest}; use a key in {dest}"),
                    );
                }
                check_owner(r, "KmsKeyDestination", &account, own_account.as_deref());
            }
            Ok(_) => {}
            Err(why) => r.diag.error("KmsKeyDestination", why),
        }
    }
    match (same_region, source_key.is_some(), destination_key.is_some()) {
        (Some(false) | None, _, false) => r.diag.error(
            "KmsKeyDestination",
            "is required: copies in DestinationRegion are encrypted with this DR-account key (a customer-managed key in that region)",
        ),
        (Some(true), false, false) => r.diag.error(
            "KmsKeyDestination",
            "is required (or KmsKeySource, its same-region form): copies are encrypted with this DR-account key",
        ),
        _ => {}
    }
}

/// Validates ReencryptKmsKey of a source policy: a customer-managed key of this account in
/// the source region (copies under it are made there, by this account).
pub(crate) fn check_reencrypt_key(r: &mut Reader, text: &str, source_region: Option<&str>) {
    const PROPERTY: &str = "ReencryptKmsKey";
    match classify(text) {
        Ok(KeyRef::KeyArn { region, account } | KeyRef::AliasArn { region, account }) => {
            if let Some(own) = source_region.filter(|own| *own != region) {
                r.diag.error(
                    PROPERTY,
                    format!("is a key in {region}, but the re-encrypted copies are made in the source region {own}; use a key there"),
                );
            }
            check_owner(
                r,
                PROPERTY,
                &account,
                r.resolver.account_id.clone().as_deref(),
            );
        }
        Ok(KeyRef::KeyId | KeyRef::AliasName) => {}
        Err(why) => r.diag.error(PROPERTY, why),
    }
}

fn check_owner(r: &mut Reader, property: &str, key_account: &str, own: Option<&str>) {
    if let Some(own) = own.filter(|own| *own != key_account) {
        r.diag.error(
            property,
            format!("belongs to account {key_account}, but copies are made and owned by this stack's account {own}: use a key of account {own}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let arn = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            classify(arn),
            Ok(KeyRef::KeyArn {
                region: "eu-west-1".into(),
                account: "222222222222".into()
            })
        );
        assert_eq!(
            classify("1234abcd-12ab-34cd-56ef-1234567890ab"),
            Ok(KeyRef::KeyId)
        );
        assert_eq!(classify("alias/dr-snapshots"), Ok(KeyRef::AliasName));
        assert!(classify("None").unwrap_err().0.contains("placeholder"));
        assert!(
            classify("alias/aws/rds")
                .unwrap_err()
                .0
                .contains("AWS-managed")
        );
        assert!(classify("arn:aws:kms:eu-west-1:2222:key/x").is_err());
    }
}
