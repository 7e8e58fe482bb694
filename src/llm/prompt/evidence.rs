//! The evidence block of a grounded turn's prompt.

/// The passages a member is given, each under its label, and how to cite them.
pub fn render_evidence(evidence: &[askpanel_actors::evidence::GivenPassage]) -> String {
    let mut out = String::from(
        "Passages from the documents the panel was given. Rely on them where they bear on your point and cite each one you use by its label in square brackets, for example [D1:p3]. Cite only these labels; never invent one.\n",
    );
    for given in evidence {
        let mut place = given.title.clone();
        if let Some(page) = given.passage.page {
            place.push_str(&format!(", page {page}"));
        }
        if let Some(heading) = &given.passage.heading {
            place.push_str(&format!(", \"{heading}\""));
        }
        out.push_str(&format!("\n[{}] ({place}):\n{}\n", given.label, given.passage.text.trim()));
    }
    out
}
