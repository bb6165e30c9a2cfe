// Uses the types openapi-typescript generates from /v1/openapi.json (see check.sh):
// a change of the document that breaks clients fails to type-check here.
import type { paths, components } from "./api";

type List = paths["/v1/events"]["get"];
type Page = List["responses"][200]["content"]["application/json"];
const query: NonNullable<List["parameters"]["query"]> = { action: ["a.b"], action_prefix: ["sandbox."], order: "sequence", limit: 100, cursor: "x", from: "2024-01-01T00:00:00Z" };
const page: Page = { data: [{}], next_cursor: null };
const problem: components["schemas"]["Problem"] = { type: "about:blank", title: "Bad Request", status: 400, detail: "d", code: "BAD_USER_INPUT", errors: [{ path: "limit", message: "m" }] };
const proof: paths["/v1/events/{id}/proof"]["get"]["responses"][200]["content"]["application/json"] = { leaf_index: 0, tree_size: 1, leaf_hash: "h", hashes: [] };
const checkpoint: components["schemas"]["Checkpoint"] = { origin: "o", size: 1, root_hash: "r", signed_note: "n", issued_at: "t" };
const recorded: paths["/v1/events"]["post"]["responses"][201]["content"]["application/json"] = { data: [], created: 1, duplicates: 0 };
export { query, page, problem, proof, checkpoint, recorded };
