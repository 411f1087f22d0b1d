import { DynamicModule, FactoryProvider, Provider, ValueProvider } from '@nestjs/common';
import { LyricsModule } from './lyrics.module';
import { LYRICS_MODULE_OPTIONS } from './lyrics.module-definition';
import { LYRICS_MODULE_EXTRAS } from './lyrics.tokens';

const provided = (module: DynamicModule, token: unknown): Provider | undefined =>
  module.providers?.find((provider) => typeof provider === 'object' && 'provide' in provider && provider.provide === token);

describe('LyricsModule: options and extras stay apart', () => {
  const options = { kie: { apiKey: 'kie-secret' }, createBudget: 5 };

  it('forRoot: the options provider holds only options, the extras provider only extras with their defaults', () => {
    const module = LyricsModule.forRoot({ ...options, routePrefix: '/api/v1/', clientGuards: [] });
    expect((provided(module, LYRICS_MODULE_OPTIONS) as ValueProvider).useValue).toEqual(options);
    expect((provided(module, LYRICS_MODULE_EXTRAS) as ValueProvider).useValue).toEqual({
      isGlobal: false,
      dataSource: undefined,
      routePrefix: 'api/v1',
      clientController: true,
      callbackController: true,
      clientGuards: [],
    });
    expect(module.global).toBe(false);
  });

  it('forRootAsync: the factory gives the options, the extras come from beside it', async () => {
    const module = LyricsModule.forRootAsync({ useFactory: () => options, isGlobal: true, callbackController: false });
    const extras = (provided(module, LYRICS_MODULE_EXTRAS) as ValueProvider).useValue;
    expect(extras).toMatchObject({ isGlobal: true, callbackController: false, clientController: true, routePrefix: '' });
    expect(extras).not.toHaveProperty('useFactory');
    expect(await (provided(module, LYRICS_MODULE_OPTIONS) as FactoryProvider).useFactory()).toEqual(options);
    expect(module.global).toBe(true);
    expect(module.controllers).toHaveLength(1);
  });
});
