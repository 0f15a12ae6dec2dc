'use client';
import { createContext } from 'react';
import type { LiveTopology } from './liveTopology';

export const LiveTopologyContext = createContext<LiveTopology | null>(null);
