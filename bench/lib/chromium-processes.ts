import { readdirSync, readFileSync } from 'node:fs';

/** Memory and CPU of one headless Chromium's processes, read from /proc (shared by the browser benches). */

/**
 * RSS and CPU time of this browser's processes: the profile dir is on the browser's command line;
 * children follow the parent chain. CPU time is in clock ticks (USER_HZ, 100 on Linux).
 */
export function sampleBrowser(profile: string): {
  renderer: number;
  total: number;
  cpu: Map<string, number>;
} {
  let renderer = 0;
  let total = 0;
  const cpu = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline: string;
    let status: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(profile) && !(cmdline.includes('--type=') && descendsFrom(pid, profile))) continue;
    const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0) * 1024;
    total += kb('VmRSS');
    // VmHWM: the kernel's own high-water mark, which catches peaks between two samples.
    if (cmdline.includes('--type=renderer')) renderer = Math.max(renderer, kb('VmRSS'), kb('VmHWM'));
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(pid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // exited between reads
    }
  }
  return { renderer, total, cpu };
}

/** Child processes of Chromium do not repeat the profile dir; follow the parent chain to one that does. */
function descendsFrom(pid: string, profile: string): boolean {
  let current = pid;
  for (let depth = 0; depth < 6; depth++) {
    try {
      const stat = readFileSync(`/proc/${current}/stat`, 'utf8');
      const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (!parent || parent === '0' || parent === '1') return false;
      if (readFileSync(`/proc/${parent}/cmdline`, 'utf8').includes(profile)) return true;
      current = parent;
    } catch {
      return false;
    }
  }
  return false;
}
