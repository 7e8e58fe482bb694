// Panel model: the client's fold of a panel's durable events (mirrors the
// server's), plus the open format's idea deduplication.

import { ABORT_REASON, DECISION_LABEL, LEVEL_LABEL, PHASE_LABEL, TERMINAL, charLength } from './format.js';
import { debugStats } from './state.js';

/**
 * The client folds durable events into the panel exactly as the server does
 * (actors/src/panel/state.rs), plus what a person wants to see that the
 * snapshot does not keep: the consensus of every round, and an activity log.
 */
export class PanelModel {
  constructor(panel) {
    const p = JSON.parse(JSON.stringify(panel));
    p.rounds = p.rounds || [];
    p.current_turn = p.current_turn || null;
    p.pending_human = p.pending_human || null;
    p.ideas = p.ideas || [];
    p.sources = p.sources || [];
    this.panel = p;
    this.members = new Map(p.members.map((m) => [m.id, m]));
    this.roundConsensus = new Map();
    if (p.consensus) this.roundConsensus.set(p.consensus.round, p.consensus);
    this.activity = [];
    this.draftRound = null;
    this.completionReason = null;
    this.version = 0;
  }

  memberName(id) {
    const m = this.members.get(id);
    return m ? m.name : 'a member';
  }

  currentRound() {
    return this.panel.rounds[this.panel.rounds.length - 1] || null;
  }

  log(seq, ts, text) {
    this.activity.push({ seq, ts, text });
  }

  nextStatus(kind, data) {
    const status = this.panel.status;
    const pending = this.panel.pending_human ? this.panel.pending_human.member_id : null;
    if (TERMINAL.has(status)) return status;
    switch (kind) {
      case 'panel_started':
        return 'running';
      case 'human_turn_requested':
        return status === 'running' ? 'awaiting_human' : status;
      case 'turn_completed':
      case 'turn_skipped':
        return pending === data.member_id && status === 'awaiting_human' ? 'running' : status;
      case 'panel_paused':
        return 'paused';
      case 'panel_resumed':
        return pending ? 'awaiting_human' : 'running';
      case 'panel_completed':
        return 'completed';
      case 'panel_failed':
        return 'failed';
      case 'panel_cancelled':
        return 'cancelled';
      default:
        return status;
    }
  }

  closeTurn(memberId) {
    if (this.panel.current_turn && this.panel.current_turn.member_id === memberId) this.panel.current_turn = null;
  }

  clearPending(memberId) {
    if (this.panel.pending_human && this.panel.pending_human.member_id === memberId) this.panel.pending_human = null;
  }

  /** Applies event `seq` = head + 1 (the feed guarantees the order). Returns a short sentence worth announcing, or null. */
  apply(ev) {
    const p = this.panel;
    const d = ev.data || {};
    const name = (id) => this.memberName(id);
    let say = null;
    p.status = this.nextStatus(ev.kind, d);
    p.head_seq = ev.seq;
    p.updated_at = ev.ts;
    const round = this.currentRound();
    switch (ev.kind) {
      case 'panel_started':
        this.log(ev.seq, ev.ts, 'The panel started.');
        break;
      case 'round_started':
        p.rounds.push({ round: d.round, phase: d.phase, turns: [], stats: null, skipped: [], decision: null, order: d.order || [] });
        say = `Round ${d.round} started: ${PHASE_LABEL[d.phase] || d.phase}.`;
        this.log(ev.seq, ev.ts, say);
        break;
      case 'turn_started':
        p.current_turn = { member_id: d.member_id, round: d.round, turn_seq: ev.seq, text: '', chars: 0 };
        say = `${name(d.member_id)} is speaking.`;
        break;
      case 'turn_completed': {
        const ct = p.current_turn;
        if (ct && ct.member_id === d.member_id) this.checkStream(ct.text, d.text || '');
        this.closeTurn(d.member_id);
        this.clearPending(d.member_id);
        // citations/evidence: grounded panels only (docs/documents.md); null otherwise.
        if (round) round.turns.push({ member_id: d.member_id, text: d.text || '', rating: d.rating ?? null, confidence: d.confidence ?? null, seq: ev.seq, citations: Array.isArray(d.citations) ? d.citations : null, evidence: d.evidence || null, flags: Array.isArray(d.flags) ? d.flags : [] });
        if (Array.isArray(d.ideas)) p.ideas.push(...newIdeas(p.ideas, d.ideas));
        if (Array.isArray(d.flags) && d.flags.includes('invented_citation')) this.log(ev.seq, ev.ts, `${name(d.member_id)} cited a passage they were not given.`);
        say = `${name(d.member_id)} finished${d.rating != null ? `, rating ${d.rating} of 9` : ''}.`;
        break;
      }
      case 'turn_skipped':
        this.closeTurn(d.member_id);
        this.clearPending(d.member_id);
        if (round) round.skipped.push({ member_id: d.member_id, reason: d.reason, seq: ev.seq });
        say = `${name(d.member_id)}'s turn was skipped (${d.reason}).`;
        this.log(ev.seq, ev.ts, say);
        break;
      case 'turn_aborted':
        // The streamed text of an aborted turn is void; the turn runs again later.
        this.closeTurn(d.member_id);
        this.log(ev.seq, ev.ts, `${name(d.member_id)}'s turn was interrupted (${ABORT_REASON[d.reason] || String(d.reason).replace(/_/g, ' ')}${d.error ? `: ${d.error}` : ''})${['paused', 'interrupted', 'model_error'].includes(d.reason) ? '; it will run again' : ''}.`);
        break;
      case 'human_turn_requested':
        p.pending_human = { member_id: d.member_id, round: d.round, deadline: d.deadline, request_seq: ev.seq };
        say = `Waiting for ${name(d.member_id)} to answer.`;
        this.log(ev.seq, ev.ts, say);
        break;
      case 'human_input':
        this.log(ev.seq, ev.ts, `${name(d.member_id)} answered.`);
        break;
      case 'moderator_action': {
        const what = { pause: 'paused the panel', resume: 'resumed the panel', skip_turn: 'skipped the turn', inject: 'injected', end_round: 'ended the round', finish: 'asked to finish', cancel: 'cancelled the panel' }[d.action] || d.action;
        this.log(ev.seq, ev.ts, `A moderator ${what}${d.text ? `: “${d.text}”` : '.'}`);
        break;
      }
      case 'round_completed':
        if (round) {
          round.stats = d.stats || null;
          round.decision = d.decision || null;
        }
        this.log(ev.seq, ev.ts, `Round ${d.round} completed${d.decision ? ` (${DECISION_LABEL[d.decision] || d.decision})` : ''}.`);
        break;
      case 'consensus_updated':
        p.consensus = d.consensus;
        if (d.consensus) this.roundConsensus.set(d.consensus.round, d.consensus);
        if (d.consensus) say = `Consensus level: ${LEVEL_LABEL[d.consensus.level] || d.consensus.level}.`;
        break;
      case 'draft_updated':
        p.draft = d.draft;
        // As the server folds it: the latest list, empty when the event has none (the field is then absent).
        p.sources = Array.isArray(d.sources) ? d.sources : [];
        this.draftRound = d.round;
        say = `The draft recommendation was updated after round ${d.round}.`;
        break;
      case 'feedback_updated':
        p.feedback = d.feedback;
        this.log(ev.seq, ev.ts, `The facilitator summarised the ${d.feedback ? d.feedback.rationales : ''} anonymous rationales of round ${d.round}.`);
        break;
      case 'panel_paused':
        p.paused_reason = d.reason;
        say = 'The panel is paused.';
        this.log(ev.seq, ev.ts, `The panel paused (${d.reason}).`);
        break;
      case 'panel_resumed':
        p.paused_reason = null;
        say = 'The panel resumed.';
        this.log(ev.seq, ev.ts, 'The panel resumed.');
        break;
      case 'panel_completed':
        p.recommendation = d.recommendation;
        p.sources = Array.isArray(d.sources) ? d.sources : [];
        if (d.consensus) {
          p.consensus = d.consensus;
          this.roundConsensus.set(d.consensus.round, d.consensus);
        }
        if (d.verdict) p.verdict = d.verdict;
        this.completionReason = d.reason || null;
        this.finish(ev);
        say = 'The panel completed: the final recommendation is ready.';
        this.log(ev.seq, ev.ts, 'The panel completed.');
        break;
      case 'panel_failed':
        p.error = d.error;
        this.finish(ev);
        say = 'The panel failed.';
        this.log(ev.seq, ev.ts, `The panel failed: ${d.error}`);
        break;
      case 'panel_cancelled':
        this.finish(ev);
        say = 'The panel was cancelled.';
        this.log(ev.seq, ev.ts, 'The panel was cancelled.');
        break;
      default:
        break;
    }
    this.version += 1;
    return say;
  }

  finish(ev) {
    this.panel.completed_at = ev.ts;
    this.panel.current_turn = null;
    this.panel.pending_human = null;
  }

  /**
   * What streamed must agree with the turn's final text (which may lack a
   * rating trailer the model streamed). Duplicated or lost deltas show here;
   * the e2e tests read these counters.
   */
  checkStream(streamed, final) {
    debugStats.turnsChecked += 1;
    if (!streamed) return;
    if (!(final.startsWith(streamed) || streamed.startsWith(final))) debugStats.streamMismatches += 1;
  }

  /** The member's latest completed turn, any round. */
  lastTurnOf(memberId) {
    const rounds = this.panel.rounds;
    for (let i = rounds.length - 1; i >= 0; i -= 1) {
      const turns = rounds[i].turns;
      for (let j = turns.length - 1; j >= 0; j -= 1) if (turns[j].member_id === memberId) return { ...turns[j], round: rounds[i].round };
    }
    return null;
  }
}

/* Open panels: the server's idea deduplication (actors/src/panel/ideas.rs),
   so a page that replays the log lists the same ideas as the snapshot. */
const IDEA_STOP_WORDS = new Set('a an and are as at be by for from in into is it its of on or our should that the their this to we with will would can could than'.split(' '));

function ideaWords(idea) {
  const words = new Set();
  for (const raw of idea.split(/[^\p{L}\p{N}]+/u)) {
    if (!raw) continue;
    let w = raw.toLowerCase();
    if (w.endsWith('s') && charLength(w) - 1 > 3) w = w.slice(0, -1);
    if (!IDEA_STOP_WORDS.has(w)) words.add(w);
  }
  return words;
}

function jaccard(a, b) {
  const union = new Set([...a, ...b]).size;
  if (union === 0) return 1;
  let inter = 0;
  for (const w of a) if (b.has(w)) inter += 1;
  return inter / union;
}

function newIdeas(known, candidates) {
  const seen = known.map(ideaWords);
  const fresh = [];
  for (const raw of candidates) {
    const idea = raw.trim();
    const words = ideaWords(idea);
    if (words.size === 0 || seen.some((k) => jaccard(k, words) > 0.6)) continue;
    seen.push(words);
    fresh.push(idea);
  }
  return fresh;
}
