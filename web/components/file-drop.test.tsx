import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { FileDrop, fileProblem, MAX_UPLOAD_BYTES } from "@/components/file-drop";

function file(name: string, size: number): File {
  return new File([new Uint8Array(size)], name);
}

describe("FileDrop", () => {
  it("refuses the wrong type, an empty file and a file over the limit before any upload", () => {
    expect(fileProblem(file("photo.png", 10))).toBe('"photo.png" is not a PDF, DOCX, TXT or MD file.');
    expect(fileProblem(file("cv.pdf", 0))).toBe('"cv.pdf" is empty.');
    expect(fileProblem(file("cv.pdf", MAX_UPLOAD_BYTES + 1))).toBe('"cv.pdf" is larger than 10 MiB.');
    expect(fileProblem(file("CV.DOCX", 100))).toBeNull();
    expect(fileProblem(file("notes.md", 100))).toBeNull();
  });

  it("passes on a dropped resume and explains a refused one", () => {
    const onFile = vi.fn();
    render(<FileDrop onFile={onFile} />);
    const zone = screen.getByTestId("file-drop");

    fireEvent.drop(zone, { dataTransfer: { files: [file("photo.png", 10)] } });
    expect(onFile).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toContain("is not a PDF");

    const resume = file("resume.pdf", 2048);
    fireEvent.drop(zone, { dataTransfer: { files: [resume] } });
    expect(onFile).toHaveBeenCalledWith(resume);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("opens the file picker from the keyboard", () => {
    render(<FileDrop onFile={() => undefined} />);
    const input = screen.getByTestId("file-input") as HTMLInputElement;
    const click = vi.spyOn(input, "click");
    fireEvent.keyDown(screen.getByTestId("file-drop"), { key: "Enter" });
    expect(click).toHaveBeenCalled();
  });
});
