//! The notice: what the participant is told, generated from the policy (ENR-20 to
//! ENR-23), in English and Spanish.
//!
//! Every number, purpose and custodian in the text is read from the policy, so the notice
//! cannot say anything the system does not do. Custodian names and purposes are the
//! policy's own text; for another language they come from a translation file beside the
//! policy (`policy/default.es.toml`), which is checked against the policy's ids. The
//! Spanish text is a draft to be reviewed by a translator and by participants (ENR-24).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use minimis_proto::{CustodianRole, Policy, PolicyHash};
use serde::Deserialize;

/// A language the notice is available in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// English.
    English,
    /// Spanish.
    Spanish,
}

impl std::str::FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "en" => Ok(Self::English),
            "es" => Ok(Self::Spanish),
            _ => Err(UnknownLanguage),
        }
    }
}

/// A language other than `en` and `es`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the notice is available in en and es")]
pub struct UnknownLanguage;

/// The policy's texts in another language. Not part of the policy hash: a translation can
/// be corrected without a new policy.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// The language (`es`).
    pub language: String,
    /// The hash of the policy this translates (so a translation cannot drift silently).
    pub policy: String,
    /// Purpose id → text.
    pub purposes: BTreeMap<String, String>,
    /// Custodian id → name.
    pub custodians: BTreeMap<String, String>,
}

/// Why a translation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranslationError {
    /// Not valid TOML, or an unknown key.
    #[error("translation is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// It translates another policy.
    #[error("the translation is for policy {found}, not {expected}")]
    OtherPolicy {
        /// The hash it names.
        found: String,
        /// The policy's hash.
        expected: String,
    },
    /// A purpose or custodian of the policy has no translation, or one that the policy
    /// does not have is translated.
    #[error("the translation's {what} ids do not match the policy's")]
    Ids {
        /// `purposes` or `custodians`.
        what: &'static str,
    },
}

impl Translation {
    /// Reads a translation and checks it against `policy`: the same hash, and exactly the
    /// policy's purpose and custodian ids.
    ///
    /// # Errors
    /// [`TranslationError`].
    pub fn from_toml_str(text: &str, policy: &Policy) -> Result<Self, TranslationError> {
        let t: Self = toml::from_str(text)?;
        if t.policy != policy.hash().to_hex() {
            return Err(TranslationError::OtherPolicy {
                found: t.policy,
                expected: policy.hash().to_hex(),
            });
        }
        let purposes: Vec<&str> = policy.purposes().iter().map(|p| p.id.as_str()).collect();
        if t.purposes.keys().map(String::as_str).ne(sorted(purposes)) {
            return Err(TranslationError::Ids { what: "purposes" });
        }
        let custodians: Vec<&str> = policy.custodians().iter().map(|c| c.id.as_str()).collect();
        if t.custodians
            .keys()
            .map(String::as_str)
            .ne(sorted(custodians))
        {
            return Err(TranslationError::Ids { what: "custodians" });
        }
        Ok(t)
    }
}

fn sorted(mut v: Vec<&str>) -> impl Iterator<Item = &str> {
    v.sort_unstable();
    v.into_iter()
}

/// The Spanish translation of the reference policy.
pub const DEFAULT_POLICY_ES: &str = include_str!("../../../policy/default.es.toml");

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn trim_period(s: &str) -> &str {
    s.trim_end_matches('.')
}

/// That the notice for a policy was made for the participant to read (**ENR-20**): made
/// only by [`show`], and required by [`Device::enroll`](crate::Device::enroll) for the
/// policy the enrollment bundle cites, so that a device cannot be enrolled, and so cannot
/// check in, before the app has had the notice to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoticeShown {
    policy: PolicyHash,
    language: Language,
}

impl NoticeShown {
    /// The hash of the policy whose notice was shown.
    pub fn policy(&self) -> PolicyHash {
        self.policy
    }

    /// The language it was shown in.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Rebuilds the record of a notice shown, from the device's store.
    pub(crate) fn stored(policy: PolicyHash, language: Language) -> Self {
        Self { policy, language }
    }
}

impl Language {
    /// The language's code: `en` or `es`.
    pub fn code(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Spanish => "es",
        }
    }
}

/// The notice for `policy` in `language`, for the app to show before enrollment completes,
/// with the proof it was made ([`NoticeShown`], ENR-20).
pub fn show(
    policy: &Policy,
    language: Language,
    translation: Option<&Translation>,
) -> (String, NoticeShown) {
    (
        notice(policy, language, translation),
        NoticeShown {
            policy: policy.hash(),
            language,
        },
    )
}

/// The notice for `policy` in `language`; `translation` supplies the policy's texts for a
/// language other than the policy's own (English).
pub fn notice(policy: &Policy, language: Language, translation: Option<&Translation>) -> String {
    let purposes: Vec<String> = policy
        .purposes()
        .iter()
        .map(|p| {
            let text = translation
                .and_then(|t| t.purposes.get(&p.id))
                .unwrap_or(&p.description);
            lower_first(trim_period(text))
        })
        .collect();
    let custodian = |role: CustodianRole| {
        policy.custodian(role).map(|c| {
            translation
                .and_then(|t| t.custodians.get(&c.id))
                .cloned()
                .unwrap_or_else(|| c.name.clone())
        })
    };
    let agency = custodian(CustodianRole::Agency).unwrap_or_default();
    let oversight = custodian(CustodianRole::Oversight);
    let ledger = policy.ledger_retention_days();
    match language {
        Language::English => english(policy, &purposes, &agency, oversight.as_deref(), ledger),
        Language::Spanish => spanish(policy, &purposes, &agency, oversight.as_deref(), ledger),
    }
}

fn english(
    p: &Policy,
    purposes: &[String],
    agency: &str,
    oversight: Option<&str>,
    ledger: u32,
) -> String {
    let mut s = String::new();
    let period = if p.epoch_length_days() == 7 {
        "the week it was sent".to_owned()
    } else {
        format!("the {}-day period it was sent in", p.epoch_length_days())
    };
    let years = if ledger.is_multiple_of(365) {
        format!("{} years ({ledger} days)", ledger / 365)
    } else {
        format!("{ledger} days")
    };
    let every = match p.epoch_length_days() {
        7 => "every week".to_owned(),
        1 => "every day".to_owned(),
        n => format!("every {n} days"),
    };
    let _ = write!(
        s,
        "WHAT THIS APP DOES\n\n\
         You are asked to check in with this app at set times. Your schedule is at most {} \
         check-ins a day, and at most {} extra check-ins in any 30 days. The app will refuse \
         any request beyond your schedule, and will show it to you.\n\n\
         WHAT IS SENT AT A CHECK-IN\n\n\
         - Whether you were inside the area in your order, outside it, or the phone could not \
         tell. Your exact location never leaves your phone. If your order has no area, your \
         location is not used at all.\n\
         - Whether you confirmed it is you, with your PIN. No photo, no voice recording and no \
         fingerprint ever leaves your phone.\n\
         - The time on your phone, and a short note if you want to write one (at most {} \
         characters of text).\n\n\
         This is locked on your phone before it is sent. The company that runs the servers \
         cannot read it.\n\n\
         WHAT IS NEVER COLLECTED\n\n\
         Your contacts or the people you know. Your car. Your health. Photos of you. Your \
         voice. Your phone number or your phone's serial numbers. Your internet address. \
         Where you go between check-ins.\n\n\
         WHO CAN READ IT, AND WHY\n\n",
        p.max_checkins_per_day(),
        p.max_adhoc_per_30_days(),
        p.max_note_bytes(),
    );
    match oversight {
        Some(o) => {
            let _ = write!(
                s,
                "Opening a check-in needs two keys: one held by the {agency}, one by the {o}."
            );
        }
        None => {
            let _ = write!(s, "Opening a check-in needs the key held by the {agency}.");
        }
    }
    let _ = write!(
        s,
        " They open a check-in only for one of these reasons: {}. Every time they open one, \
         or refuse to, it is written in a public record that you can check.\n\n\
         HOW LONG IT IS KEPT\n\n\
         What your check-ins say: {} days after {period}. Then the keys are destroyed, and \
         no one can read it again, not even from a backup.\n\n\
         Whether you checked in on time: {years} after your supervision ends. This record \
         does not say where you were.\n\n\
         Sometimes the law requires that some of your check-ins be kept longer than this. \
         This is called a legal hold. Those check-ins are then kept until the hold ends, and \
         the start and the end of the hold are written in the public record.\n\n\
         The public record is kept permanently. It never has your name, where you were or \
         what your check-ins say. It shows you only as a code that changes {every}.\n\n\
         IF A CHECK-IN FAILS\n\n\
         If the app, your phone or the network fails, that is not a violation by itself. A \
         person will look at it. Use \"Report a problem\" in the app to tell them what \
         happened. A check-in up to {} minutes after your window closes still counts, as \
         late.\n\n\
         {}\
         SEE YOUR OWN RECORD\n\n\
         The app shows you your check-ins, your receipts, the record the company keeps about \
         you, every check-in request sent to you, and every time someone opened your \
         check-ins.\n\n\
         QUESTIONS OR COMPLAINTS\n\n\
         Ask your officer, your lawyer, or the {} named above.\n",
        purposes.join("; "),
        p.content_retention_days(),
        p.grace_minutes(),
        obligations_english(p),
        oversight.unwrap_or(agency),
    );
    s
}

/// What the agency learns, and the participant's notices, reminders and decisions
/// (**OBL-23**), from the policy's `[obligations]` table.
fn obligations_english(p: &Policy) -> String {
    // A format-1 policy has no obligations in force: nothing to say.
    let Some(o) = p.obligations() else {
        return String::new();
    };
    format!(
        "WHAT YOUR OFFICER LEARNS\n\n\
         For each check-in, the agency learns only whether each condition in your order was \
         met: whether you were inside the area, and whether you confirmed it is you. It does \
         not learn where you were, the time on your phone or your note. The company that runs \
         the servers cannot read it. If a condition was not met or could not be checked, or a \
         check-in was missed, a person reviews it. That is not a violation by itself.\n\n\
         NOTICES, REMINDERS AND DECISIONS\n\n\
         Use the app to tell the agency when you change your address or your job, or before \
         you travel. The app gives you a receipt that proves the day you sent it. The agency \
         must confirm it got your notice within {} days.\n\n\
         Reminders of your appointments and hearings come to the app, the first {} days \
         before.\n\n\
         A person decides each review within {} days, and gives a reason. The app shows you \
         the decision and the reason. If you disagree, you can contest it in the app within \
         {} days. An independent oversight body then decides within {} days. You can also ask \
         that the records of that check-in be kept until it is decided.\n\n\
         The app uses no push service. It asks the servers for news, at most every {} minutes \
         during your check-in times.\n\n",
        o.acknowledge_days(),
        o.remind_days_before(),
        o.decide_days(),
        o.contest_days(),
        o.appeal_days(),
        o.poll_minutes(),
    )
}

/// The Spanish text of [`obligations_english`] (**OBL-23**).
fn obligations_spanish(p: &Policy) -> String {
    let Some(o) = p.obligations() else {
        return String::new();
    };
    format!(
        "LO QUE SABE SU OFICIAL\n\n\
         Por cada reporte, la agencia sabe solo si se cumplió cada condición de su orden: si \
         usted estaba dentro del área y si confirmó que es usted. No sabe dónde estaba usted, \
         la hora de su teléfono ni su nota. La empresa que maneja los servidores no puede \
         leerlo. Si una condición no se cumplió o no se pudo comprobar, o si faltó un reporte, \
         una persona lo revisa. Eso no es por sí solo una violación.\n\n\
         AVISOS, RECORDATORIOS Y DECISIONES\n\n\
         Use la aplicación para avisar a la agencia cuando cambie de dirección o de trabajo, \
         o antes de viajar. La aplicación le da un recibo que prueba el día en que lo envió. \
         La agencia debe confirmar que recibió su aviso dentro de {} días.\n\n\
         Los recordatorios de sus citas y audiencias llegan a la aplicación, el primero {} \
         días antes.\n\n\
         Una persona decide cada revisión dentro de {} días y da una razón. La aplicación le \
         muestra la decisión y la razón. Si no está de acuerdo, puede impugnarla en la \
         aplicación dentro de {} días. Luego un organismo de supervisión independiente decide \
         dentro de {} días. También puede pedir que los registros de ese reporte se guarden \
         hasta que se decida.\n\n\
         La aplicación no usa un servicio de notificaciones. Pide novedades a los servidores, \
         como máximo cada {} minutos durante sus horarios de reporte.\n\n",
        o.acknowledge_days(),
        o.remind_days_before(),
        o.decide_days(),
        o.contest_days(),
        o.appeal_days(),
        o.poll_minutes(),
    )
}

fn spanish(
    p: &Policy,
    purposes: &[String],
    agency: &str,
    oversight: Option<&str>,
    ledger: u32,
) -> String {
    let mut s = String::new();
    let period = if p.epoch_length_days() == 7 {
        "la semana en que se enviaron".to_owned()
    } else {
        format!(
            "el período de {} días en que se enviaron",
            p.epoch_length_days()
        )
    };
    let years = if ledger.is_multiple_of(365) {
        format!("{} años ({ledger} días)", ledger / 365)
    } else {
        format!("{ledger} días")
    };
    let every = match p.epoch_length_days() {
        7 => "cada semana".to_owned(),
        1 => "cada día".to_owned(),
        n => format!("cada {n} días"),
    };
    let _ = write!(
        s,
        "QUÉ HACE ESTA APLICACIÓN\n\n\
         Se le pide que se reporte con esta aplicación a horas fijas. Su horario tiene como \
         máximo {} reportes al día, y como máximo {} reportes extra en cualquier período de 30 \
         días. La aplicación rechazará cualquier solicitud fuera de su horario y se la \
         mostrará.\n\n\
         QUÉ SE ENVÍA EN CADA REPORTE\n\n\
         - Si usted estaba dentro del área de su orden, fuera de ella, o si el teléfono no \
         pudo saberlo. Su ubicación exacta nunca sale de su teléfono. Si su orden no tiene un \
         área, su ubicación no se usa.\n\
         - Si usted confirmó que es usted, con su PIN. Ninguna foto, grabación de voz ni \
         huella digital sale de su teléfono.\n\
         - La hora de su teléfono, y una nota corta si quiere escribirla (como máximo {} \
         caracteres).\n\n\
         Todo esto se cifra (se cierra con llave) en su teléfono antes de enviarse. La \
         empresa que maneja los servidores no puede leerlo.\n\n\
         LO QUE NUNCA SE RECOGE\n\n\
         Sus contactos ni las personas que conoce. Su carro. Su salud. Fotos suyas. Su voz. \
         Su número de teléfono ni los números de serie de su teléfono. Su dirección de \
         internet. Adónde va entre un reporte y otro.\n\n\
         QUIÉN PUEDE LEERLO Y POR QUÉ\n\n",
        p.max_checkins_per_day(),
        p.max_adhoc_per_30_days(),
        p.max_note_bytes(),
    );
    match oversight {
        Some(o) => {
            let _ = write!(
                s,
                "Para abrir un reporte se necesitan dos llaves: una la tiene el {agency} y otra \
                 el {o}."
            );
        }
        None => {
            let _ = write!(
                s,
                "Para abrir un reporte se necesita la llave que tiene el {agency}."
            );
        }
    }
    let _ = write!(
        s,
        " Solo abren un reporte por una de estas razones: {}. Cada vez que abren uno, o se \
         niegan a abrirlo, queda escrito en un registro público que usted puede revisar.\n\n\
         CUÁNTO TIEMPO SE GUARDA\n\n\
         Lo que dicen sus reportes: {} días después de {period}. Luego se destruyen las \
         llaves y nadie puede volver a leerlos, ni siquiera desde una copia de seguridad.\n\n\
         Si usted se reportó a tiempo: {years} después de que termine su supervisión. Este \
         registro no dice dónde estaba usted.\n\n\
         A veces la ley exige que algunos de sus reportes se guarden por más tiempo. Esto \
         se llama retención legal. Esos reportes se guardan hasta que termine la retención, \
         y el inicio y el fin de la retención quedan escritos en el registro público.\n\n\
         El registro público se guarda para siempre. Nunca tiene su nombre, dónde estaba \
         usted ni lo que dicen sus reportes. Lo muestra a usted solo con un código que cambia \
         {every}.\n\n\
         SI UN REPORTE FALLA\n\n\
         Si falla la aplicación, su teléfono o la red, eso no es por sí solo una violación. \
         Una persona lo revisará. Use \"Reportar un problema\" en la aplicación para contar lo \
         que pasó. Un reporte hasta {} minutos después de que cierre su horario todavía \
         cuenta, como tardío.\n\n\
         {}\
         VEA SU PROPIO REGISTRO\n\n\
         La aplicación le muestra sus reportes, sus recibos, el registro que la empresa \
         guarda sobre usted, cada solicitud de reporte que le enviaron y cada vez que alguien \
         abrió sus reportes.\n\n\
         PREGUNTAS O QUEJAS\n\n\
         Pregunte a su oficial, a su abogado o al {} nombrado arriba.\n",
        purposes.join("; "),
        p.content_retention_days(),
        p.grace_minutes(),
        obligations_spanish(p),
        oversight.unwrap_or(agency),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use minimis_proto::{DEFAULT_POLICY_TOML, default_policy};

    #[test]
    fn enr_21_enr_22_every_value_comes_from_the_policy() {
        let base = notice(&default_policy(), Language::English, None);
        for needle in [
            "at most 3 check-ins a day",
            "at most 4 extra",
            "at most 280 characters",
            "90 days after the week",
            "7 years (2555 days)",
            "up to 60 minutes",
            "Independent oversight custodian",
            "review whether a specific check-in met a release condition",
            // What can outlast the periods above: a legal hold, and the public log.
            "This is called a legal hold",
            "kept until the hold ends",
            "The public record is kept permanently",
            "a code that changes every week",
        ] {
            assert!(base.contains(needle), "{needle}: {base}");
        }
        // Change the policy, and the notice changes with it.
        let changed = DEFAULT_POLICY_TOML
            .replace("content_days = 90", "content_days = 30")
            .replace("max_checkins_per_day = 3", "max_checkins_per_day = 1")
            .replace("ledger_days = 2555", "ledger_days = 1000");
        let p = Policy::from_toml_str(&changed).unwrap();
        let text = notice(&p, Language::English, None);
        assert!(text.contains("30 days after the week") && !text.contains("90 days"));
        assert!(text.contains("at most 1 check-ins a day"));
        assert!(text.contains("1000 days after your supervision ends"));
        let daily = Policy::from_toml_str(
            &DEFAULT_POLICY_TOML.replace("length_days = 7", "length_days = 3"),
        )
        .unwrap();
        let text = notice(&daily, Language::English, None);
        assert!(text.contains("a code that changes every 3 days"), "{text}");
        // In the order ENR-22 gives.
        let order = [
            "WHAT IS SENT",
            "WHAT IS NEVER",
            "WHO CAN READ",
            "HOW LONG",
            "IF A CHECK-IN FAILS",
            "SEE YOUR OWN",
            "QUESTIONS",
        ];
        let at: Vec<usize> = order.iter().map(|h| base.find(h).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn enr_23_spanish_from_the_checked_translation() {
        let p = default_policy();
        let t = Translation::from_toml_str(DEFAULT_POLICY_ES, &p).unwrap();
        let es = notice(&p, Language::Spanish, Some(&t));
        for needle in [
            "como máximo 3 reportes al día",
            "90 días después de la semana",
            "7 años (2555 días)",
            "custodio independiente",
            "Esto se llama retención legal",
            "El registro público se guarda para siempre",
            "un código que cambia cada semana",
        ] {
            assert!(es.contains(needle), "{needle}: {es}");
        }
        // A translation of another policy is refused.
        let other = DEFAULT_POLICY_TOML.replace("content_days = 90", "content_days = 91");
        let other = Policy::from_toml_str(&other).unwrap();
        assert!(matches!(
            Translation::from_toml_str(DEFAULT_POLICY_ES, &other),
            Err(TranslationError::OtherPolicy { .. })
        ));
    }

    #[test]
    fn obl_23_the_notice_states_what_the_agency_learns_and_the_obligations_deadlines() {
        let p = default_policy();
        let en = notice(&p, Language::English, None);
        for needle in [
            "the agency learns only whether each condition in your order was met",
            "It does not learn where you were",
            "within 2 days",
            "the first 7 days before",
            "within 14 days, and gives a reason",
            "contest it in the app within 30 days",
            "decides within 30 days",
            "at most every 5 minutes",
        ] {
            assert!(en.contains(needle), "{needle}: {en}");
        }
        let t = Translation::from_toml_str(DEFAULT_POLICY_ES, &p).unwrap();
        let es = notice(&p, Language::Spanish, Some(&t));
        for needle in [
            "la agencia sabe solo si se cumplió cada condición",
            "dentro de 2 días",
            "impugnarla en la aplicación dentro de 30 días",
            "como máximo cada 5 minutos",
        ] {
            assert!(es.contains(needle), "{needle}: {es}");
        }
        // Every deadline is read from the policy.
        let changed = DEFAULT_POLICY_TOML
            .replace("acknowledge_days = 2", "acknowledge_days = 3")
            .replace("contest_days = 30", "contest_days = 45")
            .replace("poll_minutes = 5", "poll_minutes = 10");
        let text = notice(
            &Policy::from_toml_str(&changed).unwrap(),
            Language::English,
            None,
        );
        assert!(text.contains("within 3 days") && !text.contains("within 2 days"));
        assert!(text.contains("within 45 days"));
        assert!(text.contains("at most every 10 minutes"));
        // A format-1 policy has no obligations in force, and its notice says nothing of them.
        let start = DEFAULT_POLICY_TOML
            .find("# The program's obligations")
            .unwrap();
        let end = DEFAULT_POLICY_TOML
            .find("# Who holds the epoch keys.")
            .unwrap();
        let format_1 = format!(
            "{}{}",
            &DEFAULT_POLICY_TOML[..start],
            &DEFAULT_POLICY_TOML[end..]
        )
        .replace("minimis-policy/2", "minimis-policy/1");
        let old = notice(
            &Policy::from_toml_str(&format_1).unwrap(),
            Language::English,
            None,
        );
        assert!(!old.contains("WHAT YOUR OFFICER LEARNS") && old.contains("SEE YOUR OWN"));
        // After the failed check-in section, before the participant's own record (ENR-22).
        let fails = en.find("IF A CHECK-IN FAILS").unwrap();
        let learns = en.find("WHAT YOUR OFFICER LEARNS").unwrap();
        let own = en.find("SEE YOUR OWN").unwrap();
        assert!(fails < learns && learns < own);
    }

    #[test]
    fn enr_25_the_notice_never_calls_it_consent() {
        let p = default_policy();
        let t = Translation::from_toml_str(DEFAULT_POLICY_ES, &p).unwrap();
        for text in [
            notice(&p, Language::English, None),
            notice(&p, Language::Spanish, Some(&t)),
        ] {
            let lower = text.to_lowercase();
            for word in [
                "consent",
                "voluntary",
                "optional",
                "consentimiento",
                "voluntari",
                "opcional",
            ] {
                assert!(!lower.contains(word), "{word}");
            }
        }
    }
}
