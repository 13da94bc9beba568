import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { DeadLetterFilters } from "@/components/admin/dead-letter-filters";
import { EMPTY_FILTER } from "@/lib/dead-letter-filter";

describe("DeadLetterFilters", () => {
  it("hands up the whole edited filter only when applied", () => {
    const onApply = vi.fn();
    render(<DeadLetterFilters value={EMPTY_FILTER} onApply={onApply} />);
    fireEvent.change(screen.getByLabelText("Error message contains"), { target: { value: "timeout" } });
    fireEvent.change(screen.getByLabelText("Job type"), { target: { value: "job.extract" } });
    fireEvent.change(screen.getByLabelText("Failed"), { target: { value: "24h" } });
    expect(onApply).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: /Apply filter/ }));
    expect(onApply).toHaveBeenCalledWith({ ...EMPTY_FILTER, q: "timeout", jobType: "job.extract", within: "24h" });
  });

  it("refuses a range that ends before it starts, and clears to no filter", () => {
    const onApply = vi.fn();
    render(<DeadLetterFilters value={{ ...EMPTY_FILTER, q: "x" }} onApply={onApply} />);
    fireEvent.change(screen.getByLabelText("From (UTC)"), { target: { value: "2026-11-20" } });
    fireEvent.change(screen.getByLabelText("To (UTC)"), { target: { value: "2026-11-10" } });
    expect(screen.getByRole("alert").textContent).toMatch(/before/);
    expect(screen.getByRole("button", { name: /Apply filter/ }).hasAttribute("disabled")).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: /Clear/ }));
    expect(onApply).toHaveBeenCalledWith(EMPTY_FILTER);
  });
});
