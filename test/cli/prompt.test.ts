/**
 * The real approval prompt (@inquirer/prompts' expand with otpfix's configuration) rendered with
 * @inquirer/testing: every key maps to its choice, Enter takes the default (yes), a wrong key is
 * refused. (A whole session through this prompt: prompt-session.test.ts.)
 */
import { render } from '@inquirer/testing';
import { expand } from '@inquirer/prompts';
import { describe, expect, it } from 'vitest';
import { CHOICES, promptConfig } from '../../src/cli/review/interactive.js';

describe('the approval prompt', () => {
  it('offers every choice under its key', async () => {
    const { answer, events, getScreen } = await render(expand, promptConfig('Apply this change? (3 left)'));
    expect(getScreen()).toContain('Apply this change? (3 left) (Ynfraqxeh)');
    events.type('h');
    events.keypress('enter');
    await Promise.resolve();
    const help = getScreen();
    for (const c of CHOICES) expect(help).toContain(`${c.key}) ${c.name}`);
    events.type('y');
    events.keypress('enter');
    await expect(answer).resolves.toBe('yes');
  });

  it.each(CHOICES.map((c) => [c.key, c.value] as const))('key %s answers %s', async (key, value) => {
    const { answer, events } = await render(expand, promptConfig('Apply this change?'));
    events.type(key);
    events.keypress('enter');
    await expect(answer).resolves.toBe(value);
  });

  it('Enter alone takes the default: yes', async () => {
    const { answer, events } = await render(expand, promptConfig('Apply this change?'));
    events.keypress('enter');
    await expect(answer).resolves.toBe('yes');
  });

  it('an unknown key is refused and the question stays', async () => {
    const { answer, events, getScreen, nextRender } = await render(expand, promptConfig('Apply this change?'));
    events.type('z');
    events.keypress('enter');
    await nextRender();
    expect(getScreen()).toContain(`"z" isn't an available option`);
    events.keypress('backspace');
    events.type('n');
    events.keypress('enter');
    await expect(answer).resolves.toBe('no');
  });
});

describe('Ctrl-C at the prompt', () => {
  it('rejects with the ExitPromptError that the fix command turns into "nothing written"', async () => {
    const { answer, events } = await render(expand, promptConfig('Apply this change?'));
    events.keypress({ name: 'c', ctrl: true });
    await expect(answer).rejects.toMatchObject({ name: 'ExitPromptError' });
  });
});
