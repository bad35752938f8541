// Durations and times for people.

export function fmtSeconds(s) {
  if (typeof s !== 'number' || !isFinite(s)) return '';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

// A Unix time (seconds): the hour today, the date otherwise.
export function fmtTime(at) {
  if (typeof at !== 'number') return '';
  const d = new Date(at * 1000);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) {
    return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
  }
  return d.toLocaleString([], {year: 'numeric', month: 'short', day: 'numeric',
                               hour: '2-digit', minute: '2-digit'});
}
