import { Args, Command } from '@oclif/core'

export default class Latest extends Command {
  static override summary =
    'Ask the registry for the newest tag of an image repository under a version policy.'
  static override strict = false
  static override args = {
    image: Args.string({
      description: 'image repository, optionally with the tag whose shape to keep',
      required: true,
    }),
  }
  async run(): Promise<void> {
    const { argv } = await this.parse(Latest)
    this.log(String(argv))
  }
}
