import { describe, expect, it } from "vitest";

import { formatSeconds } from "@/lib/utils";

describe("formatSeconds", () => {
  it("formats durations as people read them", () => {
    expect(formatSeconds(0.004)).toBe("< 0.01 s");
    expect(formatSeconds(0.4237)).toBe("0.42 s");
    expect(formatSeconds(12.34)).toBe("12.3 s");
    expect(formatSeconds(125)).toBe("2 min 5 s");
    expect(formatSeconds(7260)).toBe("2 h 1 min");
    expect(formatSeconds(null)).toBe("—");
  });
});
