//! The simulated expert model: the offline default. Deterministic for a seed
//! (the same seed, expert, round and task give the same text and rating),
//! text of a configured length streamed at a configured pace, ratings that
//! move toward the group over rounds as far as each persona's stubbornness
//! allows. Every turn starts with `[simulated]` so nobody mistakes it for a
//! real expert's words.

use std::time::Duration;

use futures::future::{self, BoxFuture};
use futures::stream::{self, StreamExt};

use super::{
    Bid, BidRequest, DraftRequest, Drafted, ExpertModel, JudgeRequest, ModelError, TurnChunk, TurnOutput, TurnRequest,
    TurnStream, Usage,
};
use crate::domain::{SimulationConfig, Team};
use crate::event::Verdict;
use crate::model::pacer::Pacer;
use crate::model::rng::SplitMix64;
use crate::panel::ideas;
use crate::panel::strategy::{TurnTask, fnv1a};

/// A sentence built from a concern and a topic.
type Filler = dyn Fn(&str, &str) -> String;

/// The label every simulated text starts with.
pub const SIMULATED_LABEL: &str = "[simulated]";

/// Words per delta when the pace is 0 (instant): instant turns still stream,
/// in a few larger deltas rather than one frame per word.
pub const INSTANT_WORDS_PER_DELTA: usize = 8;

/// The simulated expert model.
#[derive(Clone, Debug, Default)]
pub struct SimulatedModel {
    pacing: Pacing,
}

impl SimulatedModel {
    /// The simulated model (it keeps no state); paced turns wait on the shared pacer.
    pub fn new() -> Self {
        Self { pacing: Pacing::Shared }
    }

    /// Paced turns wait on the runtime's timers (for tests on a paused clock).
    pub fn with_pacing(pacing: Pacing) -> Self {
        Self { pacing }
    }
}

fn rng_for(simulation: &SimulationConfig, parts: &[&str]) -> SplitMix64 {
    let mut key = simulation.seed.to_le_bytes().to_vec();
    for part in parts {
        key.extend_from_slice(part.as_bytes());
        key.push(0);
    }
    SplitMix64::new(fnv1a(&key))
}

/// The two options of an "X or Y" question, when it has that shape.
pub fn options_of(query: &str) -> Option<(String, String)> {
    let q = query.trim().trim_end_matches(['?', '.', '!']);
    // ASCII lowercase keeps byte offsets: `at` indexes `q` too (a full
    // lowercase of "\u{212A}" is one byte shorter, and slicing `q` would panic).
    let lower = q.to_ascii_lowercase();
    let at = lower.rfind(" or ")?;
    let right = q[at + 4..].trim();
    let left = q[..at].trim();
    let right: String = right.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    const VERBS: &[&str] = &[
        "pursue", "choose", "use", "adopt", "take", "through", "via", "be", "go", "prefer", "select", "with", "pick",
        "build", "buy", "launch", "start",
    ];
    let words: Vec<&str> = left.split_whitespace().collect();
    let from = words
        .iter()
        .rposition(|w| VERBS.contains(&w.to_lowercase().as_str()))
        .map_or(words.len().saturating_sub(3), |i| i + 1);
    let option_a = words[from.min(words.len())..].join(" ");
    (!option_a.is_empty() && !right.is_empty()).then_some((option_a, right))
}

/// The question, quoted (shortened past a dozen words).
fn topic_of(query: &str) -> String {
    let words: Vec<&str> = query.split_whitespace().collect();
    if words.len() <= 12 { format!("\"{}\"", words.join(" ")) } else { format!("\"{}...\"", words[..12].join(" ")) }
}

/// The simulated rating of a turn. Each expert has an anchor (its own view:
/// optimism, side and a per-seed spread). Each round it moves 75% of the way
/// toward a target that blends the previous round's median (weight
/// `1 - stubbornness`) with its anchor (weight `stubbornness`), plus noise.
/// So compliant panels converge, stubborn ones stay where their members stand,
/// and noise keeps a divided panel from settling.
fn simulated_rating(request: &TurnRequest, rng: &mut SplitMix64) -> (u8, f64) {
    let profile = &request.profile;
    let simulation = &request.simulation;
    let stubbornness = simulation.stubbornness.unwrap_or(profile.stubbornness).clamp(0.0, 1.0);
    let noise = simulation.noise.unwrap_or(0.6).clamp(0.0, 4.0);
    let view = &request.view;
    let side = match view.team {
        Some(Team::Pro) => 1.5,
        Some(Team::Con) => -1.5,
        None => 0.0,
    };
    let mut anchor_rng = rng_for(simulation, &[&profile.name, "anchor"]);
    let anchor = 5.5 + profile.optimism * 3.0 + side + 2.5 * anchor_rng.signed();
    let rating = match (view.own_previous_rating, view.previous_stats.as_ref()) {
        (Some(previous), Some(stats)) => {
            let previous = f64::from(previous);
            let target = (1.0 - stubbornness) * stats.median + stubbornness * anchor;
            previous + 0.75 * (target - previous) + noise * rng.signed()
        }
        (Some(previous), None) => f64::from(previous) + 0.75 * (anchor - f64::from(previous)) + noise * rng.signed(),
        _ => anchor + 0.5 * noise * rng.signed(),
    };
    let rating = rating.round().clamp(1.0, 9.0) as u8;
    let confidence = (0.55 + 0.08 * f64::from(view.round) + 0.1 * (1.0 - stubbornness) + 0.08 * rng.unit()).min(0.97);
    (rating, (confidence * 100.0).round() / 100.0)
}

fn stance_words(rating: u8) -> &'static str {
    match rating {
        7..=9 => "I support",
        4..=6 => "I am not yet convinced by",
        _ => "I oppose",
    }
}

/// The stance inside a sentence: "I support it", "I am not yet convinced by it"...
fn stance_clause(rating: u8) -> String {
    format!("{} it", stance_words(rating))
}

/// Lower-cases the first letter unless the word is an acronym (`PPG`, `FDA`).
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), s.chars().nth(1)) {
        (Some(c), Some(next)) if next.is_lowercase() => c.to_lowercase().chain(chars).collect(),
        _ => s.to_string(),
    }
}

fn with_article(noun: &str) -> String {
    let mut chars = noun.chars();
    let (first, second) = (chars.next().unwrap_or(' '), chars.next().unwrap_or(' '));
    // "a US strategist", "a UK lead": a capital U before a capital is said "you".
    let vowel = "aeiouAEIOU".contains(first) && !(first == 'U' && second.is_uppercase());
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// Builds the full text of a simulated turn, about `turn_tokens` words long.
fn compose_turn(request: &TurnRequest, rating: Option<u8>, new_ideas: &[String], rng: &mut SplitMix64) -> String {
    let p = &request.profile;
    let v = &request.view;
    let domain = p.domain.replace('_', " ");
    let title = p.title.split(' ').map(lower_first).collect::<Vec<_>>().join(" ");
    let role = with_article(&if title.is_empty() { format!("{domain} expert") } else { title });
    let topic = topic_of(&v.query);
    let options = options_of(&v.query);
    let concerns: Vec<String> =
        if p.concerns.is_empty() { vec![format!("{domain} risk")] } else { p.concerns.to_vec() };
    let tags: Vec<String> = if p.tags.is_empty() { vec![domain.clone()] } else { p.tags.to_vec() };
    let concern = |rng: &mut SplitMix64| lower_first(rng.pick(&concerns).map(String::as_str).unwrap_or("the evidence"));
    let lean = match (&options, rating) {
        (Some((a, b)), Some(r)) => {
            if r >= 5 {
                a.clone()
            } else {
                b.clone()
            }
        }
        (Some((a, b)), None) => {
            if p.optimism >= 0.0 {
                a.clone()
            } else {
                b.clone()
            }
        }
        (None, _) => "the proposal".to_string(),
    };

    let mut opening: Vec<String> = vec![SIMULATED_LABEL.to_string()];
    // A moderator's question comes first: the turn must address it.
    for injection in v.injections.iter().take(1) {
        let excerpt: String = injection.chars().take(120).collect();
        opening.push(format!(
            "On the moderator's point, \"{excerpt}\", my answer is that it depends on {}.",
            concern(rng)
        ));
    }
    // A follow-up's first round starts from what the earlier panel concluded.
    if v.round == 1
        && let Some(prior) = &v.prior
        && let Some(question) = prior.lines().find_map(|l| l.strip_prefix("Its question: "))
    {
        let excerpt: String = question.chars().take(120).collect();
        opening.push(format!(
            "Building on the earlier panel's conclusion on \"{excerpt}\", I take its recommendation as the starting point."
        ));
    }
    match v.task {
        TurnTask::Opening => {
            opening.push(format!("Speaking as {role}, my opening position on {topic} is that {} deserves the most serious look, because of {}.", lean, concern(rng)))
        }
        TurnTask::Critique => {
            let r = rating.unwrap_or(5);
            opening.push(format!("{} the current draft in its present form; the part I would change concerns {}.", stance_words(r), concern(rng)));
        }
        TurnTask::Brainstorm if new_ideas.is_empty() => opening.push(format!("From the {domain} side I have little new to add, but I would stress {}.", concern(rng))),
        TurnTask::Brainstorm => {
            opening.push(format!("New ideas from the {domain} side:"));
            for idea in new_ideas {
                opening.push(format!("\n- {idea}"));
            }
            opening.push("\n".to_string());
        }
        TurnTask::Question => {
            let target = v.focus.as_deref().map(|_| "the point where we are most divided").unwrap_or("the weakest point of our reasoning so far");
            opening.push(format!("My question goes to {target}: what evidence would show that {} is handled well enough for {}?", concern(rng), lean));
        }
        TurnTask::Answer => opening.push(format!(
            "To the question put to us: from a {domain} perspective the honest answer turns on {}; on the draft's current handling of it, {}.",
            concern(rng),
            stance_clause(rating.unwrap_or(5))
        )),
        TurnTask::Argue => {
            let side = match v.team {
                Some(Team::Pro) => "in favour of",
                _ => "against",
            };
            let what = match v.phase {
                crate::event::Phase::Rebuttal => "The other side's case is weakest on",
                crate::event::Phase::Closing => "In closing, the decisive issue remains",
                _ => "Our case rests first on",
            };
            opening.push(format!("I argue {side} {lean}. {what} {}.", concern(rng)));
        }
        // Delphi is anonymous: the rationale never says who writes it.
        TurnTask::Rate => opening.push(format!("My rationale: the proposal stands or falls on {}. On the evidence so far, {}.", concern(rng), stance_clause(rating.unwrap_or(5)))),
    }

    // Grounded panels: the member quotes the passages it was given that bear
    // most on its turn, and cites each by its label.
    opening.extend(quotes::evidence_sentences(request, rng));

    let fillers: [&Filler; 10] = [
        &|c, _| format!("My main concern is {c}."),
        &|c, _| format!("We should document how {c} will be addressed before we commit."),
        &|_, t| format!("Evidence on {t} would change my view more than further debate would."),
        &|c, _| format!("I would ask the team to quantify the risk around {c}."),
        &|_, t| format!("Precedent in {t} suggests reviewers will look closely at this."),
        &|c, _| format!("A phased plan would let us revisit {c} once real-world data arrive."),
        &|c, _| format!("I would not trade away {c} for speed."),
        &|c, _| format!("Where we disagree, it is mostly about {c}."),
        &|c, t| format!("In my experience with {t}, {c} is where timelines slip."),
        &|c, _| format!("Any recommendation should name an owner for {c}."),
    ];
    let mut target = request.simulation.turn_tokens.max(8) as usize;
    let mut words: Vec<String> = opening.join(" ").split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect();
    // A grounded turn keeps its citations, however short the turn asked for.
    if !request.evidence.is_empty() {
        target = target.max(words.len());
    }
    while words.len() < target {
        let filler = fillers[(rng.next_u64() % fillers.len() as u64) as usize];
        let tag = rng.pick(&tags).cloned().unwrap_or_default();
        let c = concern(rng);
        let sentence = filler(&c, &tag);
        words.extend(sentence.split(' ').map(str::to_string));
    }
    // Whole sentences: the text ends at the first sentence end at or past the target.
    let end = words
        .iter()
        .enumerate()
        .skip(target.saturating_sub(1))
        .find(|(_, w)| w.ends_with(['.', '?', '!', ':']))
        .map_or(words.len(), |(i, _)| i + 1);
    words.truncate(end);
    let mut text = words.join(" ");
    if !text.ends_with(['.', '?', '!']) {
        text.push('.');
    }
    text
}

/// Rough token count of a text (words), for usage figures.
fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn prompt_tokens(request: &TurnRequest) -> u64 {
    let view = &request.view;
    count_tokens(&request.profile.persona)
        + count_tokens(&view.query)
        + view.transcript.iter().map(|t| count_tokens(&t.text)).sum::<u64>()
        + view.feedback.as_ref().map_or(0, |f| {
            f.arguments_for.iter().chain(&f.arguments_against).chain(&f.open_questions).map(|a| count_tokens(a)).sum()
        })
        + view.draft.as_deref().map_or(0, count_tokens)
        + request.evidence.iter().map(|g| count_tokens(&g.passage.text) + 4).sum::<u64>()
        + 40
}

/// Words per delta: as asked, else 1 when paced and a few when instant.
fn words_per_delta(asked: Option<u32>, pace: f64) -> usize {
    match asked {
        Some(n) => (n as usize).max(1),
        None if pace > 0.0 => 1,
        None => INSTANT_WORDS_PER_DELTA,
    }
}

/// The end of the delta that starts at byte `at` of `text`: `words` words,
/// each with its trailing space (None at the end of the text). Deltas are
/// cut as they stream, so a turn holds its text once, not a list of pieces.
fn delta_end(text: &str, at: usize, words: usize) -> Option<usize> {
    let rest = text.get(at..).filter(|r| !r.is_empty())?;
    let end = rest.match_indices(' ').nth(words.max(1) - 1).map_or(rest.len(), |(i, _)| i + 1);
    Some(at + end)
}

/// A simulated turn as it streams: its result, and where its next delta starts.
struct Streaming {
    output: TurnOutput,
    at: usize,
    words: usize,
    /// Paced turns: when the turn started streaming (on the runtime's clock,
    /// which is the real one unless a test paused it), and its nth delta.
    started: Option<tokio::time::Instant>,
    n: u32,
}

impl Streaming {
    /// The next delta, or the result once every delta is out.
    fn next(&mut self) -> Option<TurnChunk> {
        match delta_end(&self.output.text, self.at, self.words) {
            Some(end) => {
                let delta = self.output.text[self.at..end].to_string();
                self.at = end;
                self.n += 1;
                Some(TurnChunk::Delta(delta))
            }
            None => None,
        }
    }
}

/// How paced deltas wait: on the process's shared [`Pacer`], or on the
/// runtime's own timers (tests that pause the runtime's clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pacing {
    /// One timer wheel for every paced stream (the server).
    #[default]
    Shared,
    /// The tokio runtime's timers, which follow a paused test clock.
    RuntimeTimers,
}

impl ExpertModel for SimulatedModel {
    fn name(&self) -> String {
        "simulated".to_string()
    }

    fn is_simulated(&self) -> bool {
        true
    }

    fn stream_turn(&self, request: TurnRequest) -> TurnStream {
        let round = request.view.round.to_string();
        let task = format!("{:?}", request.view.task);
        let mut rng = rng_for(&request.simulation, &[&request.profile.name, &round, &task]);
        let rating = request.view.rate.then(|| simulated_rating(&request, &mut rng));
        let fresh: Vec<String> = if request.view.task == TurnTask::Brainstorm {
            let mut known = request.view.known_ideas.clone();
            let mut fresh = Vec::new();
            for concern in request.profile.concerns.iter() {
                if fresh.len() == 2 {
                    break;
                }
                if !ideas::is_duplicate(&known, concern) {
                    known.push(concern.clone());
                    fresh.push(concern.clone());
                }
            }
            fresh
        } else {
            Vec::new()
        };
        let text = compose_turn(&request, rating.map(|r| r.0), &fresh, &mut rng);
        let output = TurnOutput {
            rating_read: rating.map(|_| super::RatingRead::Direct),
            flags: Vec::new(),
            usage: Usage { prompt_tokens: prompt_tokens(&request), completion_tokens: count_tokens(&text) },
            text,
            rating: rating.map(|r| r.0),
            confidence: rating.map(|r| r.1),
            ideas: fresh,
            ..TurnOutput::default()
        };
        let pace = request.simulation.pace_tokens_per_s;
        let words = words_per_delta(request.simulation.words_per_delta, pace);
        // The pace is in tokens (words): the nth delta of n words each is due
        // n x words/pace after the turn started streaming.
        let interval = (pace > 0.0).then(|| Duration::from_secs_f64(words as f64 / pace));
        let pacing = self.pacing;
        let turn = Streaming { output, at: 0, words, started: None, n: 0 };
        stream::unfold(Some(turn), move |turn| async move {
            let mut turn = turn?;
            let Some(delta) = turn.next() else { return Some((Ok(TurnChunk::Done(turn.output)), None)) };
            if let Some(interval) = interval {
                let due = *turn.started.get_or_insert_with(tokio::time::Instant::now) + interval * turn.n;
                match pacing {
                    Pacing::Shared => Pacer::global().sleep_until(due.into_std()).await,
                    Pacing::RuntimeTimers => tokio::time::sleep_until(due).await,
                }
            }
            Some((Ok(delta), Some(turn)))
        })
        .boxed()
    }

    fn bid(&self, request: BidRequest) -> BoxFuture<'static, Result<(Bid, Usage), ModelError>> {
        let mut rng = rng_for(&request.simulation, &[&request.profile.name, &request.view.round.to_string(), "bid"]);
        let concerns = &request.profile.concerns;
        let new = concerns.iter().filter(|c| !ideas::is_duplicate(&request.view.known_ideas, c)).count();
        let bid = if new == 0 || concerns.is_empty() {
            Bid::Pass
        } else {
            Bid::Speak((0.8 * new as f64 / concerns.len() as f64 + 0.2 * rng.unit()).min(1.0))
        };
        Box::pin(future::ready(Ok((bid, Usage::default()))))
    }

    fn draft(&self, request: DraftRequest) -> BoxFuture<'static, Result<Drafted, ModelError>> {
        let text = compose_draft(&request);
        let usage = Usage {
            prompt_tokens: request.transcript.iter().map(|t| count_tokens(&t.text)).sum::<u64>() + 60,
            completion_tokens: count_tokens(&text),
        };
        Box::pin(future::ready(Ok(Drafted { text, usage })))
    }

    fn judge(&self, request: JudgeRequest) -> BoxFuture<'static, Result<(Verdict, Usage), ModelError>> {
        let score = |team: Team| {
            let turns: Vec<_> = request.transcript.iter().filter(|t| t.team == Some(team)).collect();
            if turns.is_empty() {
                return 0.0;
            }
            let total: f64 = turns
                .iter()
                .map(|t| {
                    let mut rng = rng_for(&request.simulation, &[&t.speaker, &t.round.to_string(), "judge"]);
                    5.0 + 4.0 * rng.unit()
                })
                .sum();
            (total / turns.len() as f64 * 10.0).round() / 10.0
        };
        let (pro, con) = (score(Team::Pro), score(Team::Con));
        let margin = ((pro - con).abs() * 10.0).round() / 10.0;
        let winner = if margin < 0.2 {
            "tie"
        } else if pro > con {
            "pro"
        } else {
            "con"
        };
        let rationale = match winner {
            "tie" => format!(
                "{SIMULATED_LABEL} Both sides argued to a draw: neither case answered the other's strongest point."
            ),
            side => format!(
                "{SIMULATED_LABEL} The {side} side argued more convincingly: its points were more specific and better supported, and its rebuttals engaged the other side's strongest claims."
            ),
        };
        Box::pin(future::ready(Ok((
            Verdict { winner: winner.to_string(), pro_score: pro, con_score: con, margin, rationale },
            Usage::default(),
        ))))
    }
}

mod draft;
use draft::compose_draft;
mod quotes;

#[cfg(test)]
mod tests;
