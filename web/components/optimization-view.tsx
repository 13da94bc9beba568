"use client";

// An optimization's outcome: the score (and how far it moved), matched and missing keywords, and
// the original next to the tailored resume.
import { useEffect, useState } from "react";

import { ResumeView } from "@/components/resume-view";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { api } from "@/lib/api";
import type { OptimizationRead, Resume } from "@/types/background-job";

function Keywords({ title, words, tone }: { title: string; words: string[]; tone: string }) {
  return (
    <div className="flex flex-col gap-1.5">
      <h3 className="text-sm font-semibold">
        {title} ({words.length})
      </h3>
      {words.length === 0 ? (
        <p className="text-sm text-muted-foreground">None</p>
      ) : (
        <ul className="flex flex-wrap gap-1.5" aria-label={title}>
          {words.map((word) => (
            <li key={word} className={`rounded px-2 py-0.5 text-xs ${tone}`}>
              {word}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function OptimizationView({ optimization }: { optimization: OptimizationRead }) {
  const result = optimization.optimization;
  const [original, setOriginal] = useState<Resume | null>(null);
  const [originalGone, setOriginalGone] = useState(false);

  useEffect(() => {
    if (!optimization.resumeId) {
      setOriginalGone(true);
      return;
    }
    api
      .resume(optimization.resumeId)
      .then((read) => setOriginal(read.resume))
      .catch(() => setOriginalGone(true));
  }, [optimization.resumeId]);

  const delta = result.score - (result.scoreBefore ?? 0);
  return (
    <div className="flex flex-col gap-4" data-testid="optimization-view">
      <Card>
        <CardContent className="flex flex-col gap-4 pt-4 sm:flex-row sm:items-center sm:pt-6">
          <div className="flex flex-col items-start">
            <span className="text-sm text-muted-foreground">ATS match score</span>
            <span className="text-4xl font-bold" data-testid="score">
              {result.score}
            </span>
            <span className="text-sm text-muted-foreground">
              was {result.scoreBefore ?? 0} ({delta >= 0 ? "+" : ""}
              {delta})
            </span>
          </div>
          <div className="grid flex-1 gap-4 sm:grid-cols-2">
            <Keywords
              title="Matched keywords"
              words={result.matchedKeywords ?? []}
              tone="bg-green-100 text-green-900"
            />
            <Keywords
              title="Missing keywords"
              words={result.missingKeywords ?? []}
              tone="bg-amber-100 text-amber-900"
            />
          </div>
        </CardContent>
      </Card>
      {(result.suggestions?.length ?? 0) > 0 && (
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Suggestions</CardTitle>
          </CardHeader>
          <CardContent>
            <ul className="list-disc pl-5 text-sm">
              {result.suggestions?.map((item, i) => <li key={i}>{item}</li>)}
            </ul>
          </CardContent>
        </Card>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Original resume</CardTitle>
          </CardHeader>
          <CardContent>
            {original ? (
              <ResumeView resume={original} />
            ) : (
              <p className="text-sm text-muted-foreground">
                {originalGone ? "The original resume was deleted." : "Loading…"}
              </p>
            )}
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Tailored resume</CardTitle>
          </CardHeader>
          <CardContent>
            {result.tailoredResume ? (
              <ResumeView resume={result.tailoredResume} highlight={result.matchedKeywords ?? []} />
            ) : (
              <p className="text-sm text-muted-foreground">No tailored resume.</p>
            )}
          </CardContent>
        </Card>
      </div>
    </div>
  );
}
