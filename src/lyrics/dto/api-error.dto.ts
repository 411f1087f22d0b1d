import { ApiProperty } from '@nestjs/swagger';

/** Every error of the module's routes: Nest's usual JSON shape. */
export class ApiErrorDto {
  @ApiProperty({ example: 400 })
  statusCode: number;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['webhookUrl must be an absolute http or https URL'],
    description: 'What was wrong: for a 400, one sentence per refused field, naming it and the reason.',
  })
  message: string | string[];

  @ApiProperty({ example: 'Bad Request' })
  error: string;
}
