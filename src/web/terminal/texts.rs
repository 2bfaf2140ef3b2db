//! What the terminal says, in the languages staff read: French (the default for a French
//! hospital's copiers, chosen by `Accept-Language`) and English.

/// Every sentence of the terminal.
pub struct Texts {
    pub lang: &'static str,
    pub title: &'static str,
    pub pair_heading: &'static str,
    pub pair_help: &'static str,
    pub pair_token: &'static str,
    pub pair_button: &'static str,
    pub pair_wrong: &'static str,
    pub badge_heading: &'static str,
    pub badge_help: &'static str,
    pub badge_label: &'static str,
    pub badge_button: &'static str,
    pub forgot_badge: &'static str,
    pub pin_heading: &'static str,
    pub pin_label: &'static str,
    pub pin_button: &'static str,
    pub login_heading: &'static str,
    pub register_heading: &'static str,
    pub register_help: &'static str,
    pub login_label: &'static str,
    pub password_label: &'static str,
    pub login_button: &'static str,
    pub back: &'static str,
    pub unknown_badge: &'static str,
    pub wrong_pin: &'static str,
    pub pin_not_set: &'static str,
    pub wrong_password: &'static str,
    pub locked: &'static str,
    pub directory_down: &'static str,
    pub badge_conflict: &'static str,
    pub invalid_badge: &'static str,
    pub session_over: &'static str,
    pub page_expired: &'static str,
    pub failed: &'static str,
    pub badge_linked: &'static str,
    pub badge_not_linked: &'static str,
    pub hello: &'static str,
    pub degraded: &'static str,
    pub no_jobs: &'static str,
    pub print_all: &'static str,
    pub print_selected: &'static str,
    pub cancel_selected: &'static str,
    pub logout: &'static str,
    pub auto_logout: &'static str,
    pub page: &'static str,
    pub pages: &'static str,
    pub sheet: &'static str,
    pub sheets: &'static str,
    pub copies: &'static str,
    pub color: &'static str,
    pub mono: &'static str,
    pub duplex: &'static str,
    pub simplex: &'static str,
    pub for_owner: &'static str,
    pub needs_decision: &'static str,
    pub copier_not_ready: &'static str,
    pub sent: &'static str,
    pub canceled: &'static str,
    pub not_released: &'static str,
    pub nothing_selected: &'static str,
    pub minutes_ago: &'static str,
    pub hours_ago: &'static str,
    pub just_now: &'static str,
}

pub const EN: Texts = Texts {
    lang: "en",
    title: "Folio — print release",
    pair_heading: "This screen is not linked to a copier yet",
    pair_help: "IT: enter the copier's device token (from `folio device add` or the console). It is kept in this browser.",
    pair_token: "Device token",
    pair_button: "Link this screen",
    pair_wrong: "This token is not valid (rotated, or the copier was removed).",
    badge_heading: "Tap your badge",
    badge_help: "Hold your badge against the reader, or type its number and press Enter.",
    badge_label: "Badge",
    badge_button: "Continue",
    forgot_badge: "No badge? Sign in with your login",
    pin_heading: "Enter your PIN",
    pin_label: "PIN",
    pin_button: "Continue",
    login_heading: "Sign in",
    register_heading: "This badge is not known yet",
    register_help: "Sign in once with your hospital login: the badge will then be yours.",
    login_label: "Login",
    password_label: "Password",
    login_button: "Sign in",
    back: "Back",
    unknown_badge: "This badge is not known.",
    wrong_pin: "Wrong PIN.",
    pin_not_set: "A PIN is required and you have none yet: sign in with your password, then set a PIN in My printing.",
    wrong_password: "Wrong login or password.",
    locked: "Too many failed attempts: try again in a few minutes.",
    directory_down: "The staff directory is unavailable: try again in a minute.",
    badge_conflict: "This badge belongs to several people: call IT.",
    invalid_badge: "This is not a badge number.",
    session_over: "Your session ended. Tap your badge again.",
    page_expired: "This page expired. Please start again.",
    failed: "Something went wrong. Please try again; if it persists, call IT.",
    badge_linked: "Your badge is now linked to you.",
    badge_not_linked: "The badge could not be linked",
    hello: "Hello",
    degraded: "The directory is unavailable: you were recognised from Folio's memory.",
    no_jobs: "You have no documents waiting.",
    print_all: "Print all",
    print_selected: "Print selected",
    cancel_selected: "Delete selected",
    logout: "Log out",
    auto_logout: "You will be logged out automatically after",
    page: "page",
    pages: "pages",
    sheet: "sheet",
    sheets: "sheets",
    copies: "copies",
    color: "colour",
    mono: "black & white",
    duplex: "two-sided",
    simplex: "one-sided",
    for_owner: "for",
    needs_decision: "May have printed already: check the output tray before printing it again.",
    copier_not_ready: "This copier cannot print right now",
    sent: "sent to the copier",
    canceled: "deleted",
    not_released: "not printed",
    nothing_selected: "Select at least one document.",
    minutes_ago: "min ago",
    hours_ago: "h ago",
    just_now: "just now",
};

pub const FR: Texts = Texts {
    lang: "fr",
    title: "Folio — impression sécurisée",
    pair_heading: "Cet écran n'est pas encore associé à un copieur",
    pair_help: "Informatique : saisissez le jeton du copieur (donné par `folio device add` ou la console). Il reste enregistré dans ce navigateur.",
    pair_token: "Jeton du copieur",
    pair_button: "Associer cet écran",
    pair_wrong: "Ce jeton n'est pas valable (renouvelé, ou copieur retiré).",
    badge_heading: "Passez votre badge",
    badge_help: "Approchez votre badge du lecteur, ou tapez son numéro puis Entrée.",
    badge_label: "Badge",
    badge_button: "Continuer",
    forgot_badge: "Pas de badge ? Connectez-vous avec votre identifiant",
    pin_heading: "Saisissez votre code",
    pin_label: "Code",
    pin_button: "Continuer",
    login_heading: "Connexion",
    register_heading: "Ce badge n'est pas encore connu",
    register_help: "Connectez-vous une fois avec votre identifiant de l'hôpital : le badge sera ensuite le vôtre.",
    login_label: "Identifiant",
    password_label: "Mot de passe",
    login_button: "Se connecter",
    back: "Retour",
    unknown_badge: "Ce badge n'est pas connu.",
    wrong_pin: "Code incorrect.",
    pin_not_set: "Un code est exigé et vous n'en avez pas encore : connectez-vous avec votre mot de passe, puis définissez un code dans Mes impressions.",
    wrong_password: "Identifiant ou mot de passe incorrect.",
    locked: "Trop d'essais infructueux : réessayez dans quelques minutes.",
    directory_down: "L'annuaire est indisponible : réessayez dans une minute.",
    badge_conflict: "Ce badge appartient à plusieurs personnes : appelez l'informatique.",
    invalid_badge: "Ce n'est pas un numéro de badge.",
    session_over: "Votre session est terminée. Passez à nouveau votre badge.",
    page_expired: "Cette page a expiré. Recommencez, s'il vous plaît.",
    failed: "Une erreur est survenue. Réessayez ; si elle persiste, appelez l'informatique.",
    badge_linked: "Votre badge vous est maintenant associé.",
    badge_not_linked: "Le badge n'a pas pu être associé",
    hello: "Bonjour",
    degraded: "L'annuaire est indisponible : vous avez été reconnu grâce à la mémoire de Folio.",
    no_jobs: "Aucun document en attente.",
    print_all: "Tout imprimer",
    print_selected: "Imprimer la sélection",
    cancel_selected: "Supprimer la sélection",
    logout: "Se déconnecter",
    auto_logout: "Déconnexion automatique après",
    page: "page",
    pages: "pages",
    sheet: "feuille",
    sheets: "feuilles",
    copies: "exemplaires",
    color: "couleur",
    mono: "noir et blanc",
    duplex: "recto verso",
    simplex: "recto",
    for_owner: "pour",
    needs_decision: "A peut-être déjà été imprimé : vérifiez le bac de sortie avant de relancer.",
    copier_not_ready: "Ce copieur ne peut pas imprimer pour le moment",
    sent: "envoyé au copieur",
    canceled: "supprimé",
    not_released: "non imprimé",
    nothing_selected: "Sélectionnez au moins un document.",
    minutes_ago: "min",
    hours_ago: "h",
    just_now: "à l'instant",
};

/// The texts for an `Accept-Language` header: the first of French or English it names, by
/// order of preference; French when it names neither (a French hospital's copiers).
pub fn for_accept_language(header: Option<&str>) -> &'static Texts {
    let Some(header) = header else { return &FR };
    let mut best: Option<(f32, &'static Texts)> = None;
    for part in header.split(',') {
        let mut pieces = part.trim().split(';');
        let tag = pieces
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let texts = if tag == "fr" || tag.starts_with("fr-") {
            &FR
        } else if tag == "en" || tag.starts_with("en-") {
            &EN
        } else {
            continue;
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, texts));
        }
    }
    best.map(|(_, t)| t).unwrap_or(&FR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_the_browser_preference() {
        assert_eq!(for_accept_language(Some("en-GB,en;q=0.9")).lang, "en");
        assert_eq!(
            for_accept_language(Some("fr-FR,fr;q=0.9,en;q=0.8")).lang,
            "fr"
        );
        assert_eq!(
            for_accept_language(Some("de-DE,en;q=0.5,fr;q=0.7")).lang,
            "fr"
        );
        assert_eq!(for_accept_language(Some("de-DE")).lang, "fr");
        assert_eq!(for_accept_language(None).lang, "fr");
    }
}
