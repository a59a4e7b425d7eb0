// @ts-check
/**
 * What a person hears and feels when a scan is read: a short beep (WebAudio) and a buzz
 * (navigator.vibrate), so nobody has to look at the screen on a noisy floor. Browsers start
 * sound only after a tap or key on the page, so the first one unlocks it; until then the
 * buzz alone tells.
 */

/** @type {AudioContext | null} */
let audio = null;

/** Get sound ready at the first tap or key (browsers refuse it before one). */
export function unlockOnFirstGesture() {
  const unlock = () => {
    try {
      audio ??= new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
    } catch {
      // no WebAudio: the buzz is all there is
    }
  };
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, unlock, { once: true, capture: true, passive: true });
  }
}

/**
 * A short tone.
 * @param {number} hertz
 * @param {number} ms
 */
function tone(hertz, ms) {
  if (!audio || audio.state !== "running") return;
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  const now = audio.currentTime;
  oscillator.frequency.value = hertz;
  // A quick attack and release: no click at either end.
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.4, now + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + ms / 1000);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start(now);
  oscillator.stop(now + ms / 1000 + 0.02);
}

/** @param {number | number[]} pattern */
function buzz(pattern) {
  try {
    navigator.vibrate?.(pattern);
  } catch {
    // not allowed before a tap in some browsers: the beep tells
  }
}

/** A bin was read. */
export function success() {
  tone(1760, 90);
  buzz(60);
}

/** Something was read, but it is not a bin of this server. */
export function refusal() {
  tone(330, 180);
  buzz([40, 60, 40]);
}
