//! The report of `askpanel eval`: the figures as JSON and as a Markdown table.

use anyhow::Context;

use super::{EvalArgs, Figures};

/// The Markdown report.
pub fn markdown(figures: &[Figures], args: &EvalArgs) -> String {
    let mut out = format!(
        "# askpanel eval\n\n`askpanel eval --formats {} --models {} --panels {} --experts {} --rounds {}` over `{}`.\n\n",
        args.formats,
        args.models,
        args.panels,
        args.experts,
        args.rounds,
        args.questions.display()
    );
    out.push_str("| model | format | completed | ratings read (direct + follow-up) / rated | left out | text kept | trailer leaks | re-run | skipped | s/turn | s/panel | tokens in/out | levels | agreement | dissent | model errors handled |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for f in figures {
        let levels = f.levels.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        let flags = if f.flags.is_empty() {
            "none".to_string()
        } else {
            f.flags.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        out.push_str(&format!(
            "| {} | {} | {}/{} | {} + {} / {} ({:.0}%) | {} | {}/{} | {} | {} | {} | {} | {} | {}/{} | {levels} | {} | {} | {flags} |\n",
            f.model,
            f.format,
            f.completed,
            f.panels,
            f.read_directly,
            f.read_after_follow_up,
            f.rated_turns,
            100.0 * f.rating_read_share(),
            f.left_out,
            f.text_kept,
            f.turns,
            f.trailer_leaks,
            f.turns_rerun,
            f.turns_skipped,
            f.seconds_per_turn,
            f.seconds_per_panel,
            f.tokens_in,
            f.tokens_out,
            f.mean_agreement,
            f.mean_dissent
        ));
    }
    out
}

/// Writes `eval.json` and `eval.md` into `args.out`.
pub fn write_report(figures: &[Figures], args: &EvalArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("failed to create {}", args.out.display()))?;
    std::fs::write(args.out.join("eval.json"), serde_json::to_string_pretty(figures)?)
        .context("failed to write eval.json")?;
    std::fs::write(args.out.join("eval.md"), markdown(figures, args)).context("failed to write eval.md")?;
    Ok(())
}
