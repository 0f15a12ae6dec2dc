'use client';
import * as Slider from '@radix-ui/react-slider';
import { useEffect, useRef, useState } from 'react';

const PRESETS = [5, 25, 50, 100];
// Keyboard steps commit on each key press; wait for the operator to settle before writing.
const COMMIT_DELAY_MS = 400;

/**
 * The canary's share (0–100) of a two-subset split. Moves freely while dragged (`onDraft`),
 * writes once on release. Keyboard: arrows ±1, Page Up/Down ±10, Home/End 0/100.
 */
export function CanarySlider({ stable, canary, value, disabled, onDraft, onCommit }: {
  stable: string;
  canary: string;
  value: number;
  disabled: boolean;
  onDraft: (canaryWeight: number | null) => void;
  onCommit: (canaryWeight: number) => void;
}) {
  const [draft, setDraft] = useState<number | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  const shown = draft ?? value;

  const commit = (v: number) => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      setDraft(null);
      onDraft(null);
      if (v !== value) onCommit(v);
    }, COMMIT_DELAY_MS);
  };

  return (
    <div className="canary">
      <span id="canary-label">
        Canary: <b>{canary}</b> share
      </span>
      <Slider.Root
        className="slider"
        min={0}
        max={100}
        step={1}
        value={[shown]}
        disabled={disabled}
        onValueChange={([v]) => {
          setDraft(v!);
          onDraft(v!);
        }}
        onValueCommit={([v]) => commit(v!)}
      >
        <Slider.Track className="slider-track">
          <Slider.Range className="slider-range" />
        </Slider.Track>
        <Slider.Thumb id="canary-thumb" className="slider-thumb" aria-disabled={disabled || undefined} aria-label={`${canary} share`} aria-valuetext={`${shown} percent (${stable} ${100 - shown} percent)`} data-testid="canary-slider" />
      </Slider.Root>
      <span className="num" aria-hidden>{shown}%</span>
      <div className="presets" role="group" aria-label={`${canary} share presets`}>
        {PRESETS.map((p) => (
          <button key={p} className="btn secondary small" disabled={disabled || p === value} onClick={() => onCommit(p)} data-testid={`preset-${p}`}>
            {p}%
          </button>
        ))}
      </div>
    </div>
  );
}
