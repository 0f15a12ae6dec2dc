'use client';
import * as ToggleGroup from '@radix-ui/react-toggle-group';
import { useEffect, useState } from 'react';

type Theme = 'light' | 'dark' | 'system';
const KEY = 'switchboard-theme';

function apply(theme: Theme): void {
  const dark = theme === 'dark' || (theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>('system');
  useEffect(() => {
    const saved = localStorage.getItem(KEY);
    if (saved === 'light' || saved === 'dark') setTheme(saved);
  }, []);
  useEffect(() => {
    apply(theme);
    if (theme !== 'system') return;
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const follow = () => apply('system');
    mq.addEventListener('change', follow);
    return () => mq.removeEventListener('change', follow);
  }, [theme]);

  return (
    <ToggleGroup.Root
      type="single"
      className="theme-toggle"
      aria-label="Colour theme"
      value={theme}
      onValueChange={(v) => {
        if (!v) return;
        const next = v as Theme;
        setTheme(next);
        if (next === 'system') localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, next);
      }}
    >
      <ToggleGroup.Item value="light" aria-label="Light theme">Light</ToggleGroup.Item>
      <ToggleGroup.Item value="dark" aria-label="Dark theme">Dark</ToggleGroup.Item>
      <ToggleGroup.Item value="system" aria-label="Follow the system theme">Auto</ToggleGroup.Item>
    </ToggleGroup.Root>
  );
}
