// A personal value erased by `eraseActor`: marked as such, never shown as
// an empty string.

export function Erased() {
  return (
    <span class="erased" title="Erased on request: this personal value can no longer be read">
      erased
    </span>
  );
}
