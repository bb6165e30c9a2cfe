// JSON as a tree that folds, and a before/after diff of changed fields.

function Scalar({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="j-null">null</span>;
  if (typeof value === "string") return <span class="j-str">"{value}"</span>;
  if (typeof value === "number") return <span class="j-num">{String(value)}</span>;
  if (typeof value === "boolean") return <span class="j-bool">{String(value)}</span>;
  return <span>{JSON.stringify(value)}</span>;
}

export function JsonTree({ value, name, open = true }: { value: unknown; name?: string; open?: boolean }) {
  const label = name !== undefined ? <span class="j-key">{name}: </span> : null;
  if (value === null || typeof value !== "object") {
    return (
      <div class="j-leaf">
        {label}
        <Scalar value={value} />
      </div>
    );
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, unknown>);
  const [start, end] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return (
      <div class="j-leaf">
        {label}
        <span class="j-punct">{start + end}</span>
      </div>
    );
  }
  return (
    <details class="j-node" open={open}>
      <summary>
        {label}
        <span class="j-punct">
          {start} <span class="j-count">{entries.length}</span> {end}
        </span>
      </summary>
      <div class="j-children">
        {entries.map(([k, v]) => (
          <JsonTree key={k} name={k} value={v} open={entries.length <= 20} />
        ))}
      </div>
    </details>
  );
}

function show(value: unknown): string {
  return value === undefined || value === null ? "—" : JSON.stringify(value, null, 2);
}

export function ChangesDiff({ changes }: { changes: { field: string; before: unknown; after: unknown }[] }) {
  return (
    <table class="diff" data-testid="changes">
      <thead>
        <tr>
          <th>Field</th>
          <th>Before</th>
          <th>After</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr key={c.field}>
            <th scope="row">{c.field}</th>
            <td class="before">
              <pre>{show(c.before)}</pre>
            </td>
            <td class="after">
              <pre>{show(c.after)}</pre>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
