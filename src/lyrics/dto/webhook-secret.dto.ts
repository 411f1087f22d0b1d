import { ApiProperty } from '@nestjs/swagger';

export class WebhookSecretDto {
  @ApiProperty({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description:
      "Your webhook signing secret (Standard Webhooks: whsec_ and base64). Verify each delivery's webhook-signature with it, e.g. with the standardwebhooks library.",
  })
  secret: string;
}
