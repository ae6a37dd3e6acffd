// What the township answered (server/agent/sync.py, payload "agent_state"), kept on the phone:
// each case's stage (phone → sent → received → accepted → relayed → decided → delivered, or
// refused with the township's reason), its serial and state name, the catalogue version, and
// the list of changes since the agent last looked. Only draft ids, case ids and states are
// stored here, never the applicant: the outbox page joins them with the decrypted drafts.
import * as idb from "./idb.js";

/** What the township said about the cases and their states; appends the changes seen to `changes`;
 * resolves to whether the catalogue changed. */
export async function apply(userId, answer, changes) {
  const db = idb.userDb(userId);
  const byCase = new Map((await idb.getAll(db, idb.CASES)).map((rec) => [rec.caseId, rec]));
  const now = Date.now();
  for (const result of answer.results || []) {
    const rec = byCase.get(result.id);
    if (!rec || result.status === "pending") continue; // being opened: asked again next time
    const next = result.status === "refused"
      ? { ...rec, stage: "refused", message: result.message, errors: result.errors || {}, updated: now }
      : { ...rec, stage: rec.stage === "phone" || rec.stage === "sent" ? "received" : rec.stage, serial: result.serial || rec.serial, message: "", updated: now };
    if (next.stage !== rec.stage) changes.push({ id: rec.id, from: rec.stage, to: next.stage, at: now });
    await idb.put(db, idb.CASES, next);
    byCase.set(result.id, next);
  }
  for (const state of answer.cases || []) {
    const rec = byCase.get(state.id);
    if (!rec) continue; // sent from another phone of the same agent
    if (rec.stage !== state.stage || rec.state !== state.state) {
      if (rec.stage !== state.stage) changes.push({ id: rec.id, from: rec.stage, to: state.stage, at: now });
      await idb.put(db, idb.CASES, { ...rec, stage: state.stage, state: state.state, stateName: state.state_name, serial: state.serial, updated: now });
    }
  }
  const sync = (await idb.get(db, idb.DEVICE, "sync")) || { changes: [] };
  const catalogueChanged = Boolean(sync.catalogue && answer.catalogue && sync.catalogue !== answer.catalogue);
  await idb.put(db, idb.DEVICE, {
    ...sync, lastSync: now, catalogue: answer.catalogue || sync.catalogue,
    changes: [...changes, ...(sync.changes || [])].slice(0, 50),
  }, "sync");
  return catalogueChanged;
}
