// The histogram's arithmetic: intervals per range, UTC buckets (Monday weeks,
// calendar months), bar positions, and what a click or drag selects.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketEnd, bucketStart, chooseInterval, layoutBars, selection } from "./histogram";

const at = (iso: string) => Date.parse(iso);
const H = 3_600_000;

test("the finest interval that keeps at most 100 bars", () => {
  const now = at("2026-12-07T17:00:00Z");
  assert.equal(chooseInterval(now - 15 * 60_000, now), "MINUTE");
  assert.equal(chooseInterval(now - H, now), "MINUTE");
  assert.equal(chooseInterval(now - 2 * H, now), "HOUR");
  assert.equal(chooseInterval(now - 24 * H, now), "HOUR");
  assert.equal(chooseInterval(now - 7 * 24 * H, now), "DAY");
  assert.equal(chooseInterval(now - 30 * 24 * H, now), "DAY");
  assert.equal(chooseInterval(now - 365 * 24 * H, now), "WEEK");
  assert.equal(chooseInterval(now - 10 * 365 * 24 * H, now), "MONTH");
  assert.equal(chooseInterval(now - 100 * 365 * 24 * H, now), "MONTH");
});

test("UTC buckets: Monday weeks and calendar months", () => {
  const t = at("2026-12-03T13:45:12.345Z"); // a Thursday
  assert.equal(bucketStart(t, "MINUTE"), at("2026-12-03T13:45:00Z"));
  assert.equal(bucketStart(t, "HOUR"), at("2026-12-03T13:00:00Z"));
  assert.equal(bucketStart(t, "DAY"), at("2026-12-03T00:00:00Z"));
  assert.equal(bucketStart(t, "WEEK"), at("2026-11-30T00:00:00Z"));
  assert.equal(bucketStart(at("2026-11-30T00:00:00Z"), "WEEK"), at("2026-11-30T00:00:00Z"));
  assert.equal(bucketStart(at("2026-12-06T23:59:59Z"), "WEEK"), at("2026-11-30T00:00:00Z"));
  assert.equal(bucketStart(t, "MONTH"), at("2026-12-01T00:00:00Z"));
  assert.equal(bucketEnd(at("2026-12-01T00:00:00Z"), "MONTH"), at("2027-01-01T00:00:00Z"));
  assert.equal(bucketEnd(at("2028-02-01T00:00:00Z"), "MONTH"), at("2028-03-01T00:00:00Z"));
  assert.equal(bucketEnd(at("2026-11-30T00:00:00Z"), "WEEK"), at("2026-12-07T00:00:00Z"));
});

test("bars: x by time, height by count, cut at the range's edges", () => {
  const range = { from: at("2026-12-07T10:00:00Z"), to: at("2026-12-07T20:00:00Z") };
  const bars = layoutBars(
    [
      { start: "2026-12-07T09:00:00Z", count: 50 }, // wholly before the range
      { start: "2026-12-07T10:00:00Z", count: 2 },
      { start: "2026-12-07T15:00:00Z", count: 8 },
      { start: "2026-12-07T19:00:00Z", count: 4 },
    ],
    range,
    "HOUR",
    { width: 1000, height: 80, gap: 2 },
  );
  assert.deepEqual(
    bars.map((b) => [b.x, b.width, b.y, b.height, b.count]),
    [
      [0, 98, 60, 20, 2],
      [500, 98, 0, 80, 8],
      [900, 98, 40, 40, 4],
    ],
  );
  assert.equal(bars[1].start, at("2026-12-07T15:00:00Z"));
  assert.equal(bars[1].end, at("2026-12-07T16:00:00Z"));

  // A range starting mid-bucket cuts the first bar; a tiny count stays visible.
  const cut = layoutBars(
    [
      { start: "2026-12-07T10:00:00Z", count: 1 },
      { start: "2026-12-07T11:00:00Z", count: 1000 },
    ],
    { from: at("2026-12-07T10:30:00Z"), to: at("2026-12-07T12:00:00Z") },
    "HOUR",
    { width: 90, height: 50, gap: 0 },
  );
  assert.deepEqual(
    cut.map((b) => [b.x, b.width, b.height]),
    [
      [0, 30, 1],
      [30, 60, 50],
    ],
  );
  assert.deepEqual(layoutBars([{ start: 0, count: 1 }], { from: 5, to: 5 }, "MINUTE", { width: 10, height: 10 }), []);
});

test("a click selects its bucket, a drag every bucket it crosses", () => {
  const range = { from: at("2026-12-07T10:00:00Z"), to: at("2026-12-07T20:00:00Z") };
  const click = selection(550, 550, 1000, range, "HOUR");
  assert.deepEqual(click, { from: at("2026-12-07T15:00:00Z"), to: at("2026-12-07T16:00:00Z") });
  const drag = selection(720, 150, 1000, range, "HOUR");
  assert.deepEqual(drag, { from: at("2026-12-07T11:00:00Z"), to: at("2026-12-07T18:00:00Z") });
  // The right edge is the last bucket, not one past the range.
  assert.deepEqual(selection(990, 1000, 1000, range, "HOUR"), { from: at("2026-12-07T19:00:00Z"), to: range.to });
});
