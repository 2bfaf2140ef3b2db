//! The classification plan: the categories a scanned document may be filed under, with their
//! labels and retention rules. The default is the usual plan of a French hospital's medical
//! record; a site replaces it with its own (`[archive] plan_file`). A category comes from the
//! cover sheet or from a person, never guessed.

use serde::Deserialize;

/// One category.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub code: String,
    pub label: String,
    pub retention: String,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(rename = "category")]
    pub categories: Vec<Category>,
}

const RECORD: &str = "20 ans après le dernier séjour ou la dernière consultation (CSP R.1112-7) ; \
                      mineur : au moins jusqu'à ses 28 ans ; décès : 10 ans après le décès";

/// The default plan: 26 categories.
const DEFAULT: &[(&str, &str)] = &[
    ("ADM", "Documents administratifs (identité, admission)"),
    ("CRH", "Compte rendu d'hospitalisation"),
    ("LDL", "Lettre de liaison à la sortie"),
    ("CRC", "Compte rendu de consultation"),
    ("CRO", "Compte rendu opératoire"),
    ("ANE", "Dossier d'anesthésie"),
    ("OBS", "Observations médicales"),
    ("PRE", "Prescriptions médicales"),
    ("SOI", "Dossier de soins infirmiers"),
    ("BIO", "Résultats de biologie"),
    ("IMG", "Comptes rendus d'imagerie"),
    ("EFX", "Explorations fonctionnelles (ECG, EEG, EFR)"),
    ("ANA", "Anatomie et cytologie pathologiques"),
    ("TRA", "Dossier transfusionnel"),
    ("CON", "Consentements et refus de soins"),
    ("DIR", "Directives anticipées, personne de confiance"),
    ("COR", "Correspondance médicale reçue"),
    ("URG", "Dossier des urgences"),
    ("OBT", "Dossier obstétrical et de naissance"),
    ("PED", "Documents pédiatriques"),
    ("PSY", "Soins psychiatriques sans consentement"),
    ("REE", "Rééducation (kinésithérapie, ergothérapie)"),
    ("DIE", "Diététique"),
    ("SOC", "Documents sociaux"),
    ("PHA", "Pharmacie, traçabilité des dispositifs implantables"),
    ("DEC", "Décès (certificat, documents post mortem)"),
];

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            categories: DEFAULT
                .iter()
                .map(|(code, label)| Category {
                    code: (*code).to_owned(),
                    label: (*label).to_owned(),
                    retention: match *code {
                        "TRA" => "30 ans (traçabilité transfusionnelle, CSP R.1221-49)".to_owned(),
                        "PHA" => "40 ans pour les dispositifs implantables (CSP R.5212-37), sinon comme le dossier".to_owned(),
                        _ => RECORD.to_owned(),
                    },
                })
                .collect(),
        }
    }
}

impl Plan {
    /// The site's plan from a TOML file of `[[category]]` tables (code, label, retention), or
    /// the default for an empty path.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Plan> {
        if path.as_os_str().is_empty() {
            return Ok(Plan::default());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("archive.plan_file {}: {e}", path.display()))?;
        let plan: Plan = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("archive.plan_file {}: {e}", path.display()))?;
        let mut codes: Vec<&str> = plan.categories.iter().map(|c| c.code.as_str()).collect();
        codes.sort_unstable();
        if let Some(w) = codes.windows(2).find(|w| w[0] == w[1]) {
            anyhow::bail!(
                "archive.plan_file {}: category {} twice",
                path.display(),
                w[0]
            );
        }
        if plan.categories.is_empty() {
            anyhow::bail!("archive.plan_file {} has no category", path.display());
        }
        Ok(plan)
    }

    pub fn get(&self, code: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.code.eq_ignore_ascii_case(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_has_26_categories_and_a_site_plan_is_checked() {
        let plan = Plan::default();
        assert_eq!(plan.categories.len(), 26);
        assert_eq!(
            plan.get("crh").unwrap().label,
            "Compte rendu d'hospitalisation"
        );
        assert!(plan.get("TRA").unwrap().retention.starts_with("30 ans"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plan.toml");
        std::fs::write(&file, "[[category]]\ncode = \"A\"\nlabel = \"a\"\nretention = \"1\"\n[[category]]\ncode = \"A\"\nlabel = \"b\"\nretention = \"2\"\n").unwrap();
        assert!(Plan::load(&file).unwrap_err().to_string().contains("twice"));
        std::fs::write(&file, "[[category]]\ncode = \"A\"\nlabell = \"a\"\n").unwrap();
        assert!(Plan::load(&file).is_err());
    }
}
