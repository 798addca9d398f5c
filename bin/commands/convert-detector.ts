/**
 * `vlkit convert-detector`: turn the bottom-up-attention Faster R-CNN (Caffe .caffemodel, or a PyTorch port's state
 * dict) and its test prototxt into an ONNX detector for `vlkit extract`. The conversion itself is Python
 * (features/convert/butd_to_onnx.py, PyTorch's ONNX exporter); this command runs it with Debian's python3 and then
 * checks the written model against the detector contract with onnxruntime.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { EXIT_OK, UsageError } from '../../common/errors.js';
import { checkDetectorContract } from '../../features/contract.js';
import { action, subcommand } from '../cli.js';
import type { Register } from './index.js';

/** dist/bin/commands/ → repository root, where features/convert/ holds the Python converter. */
export const CONVERTER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../features/convert/butd_to_onnx.py');

interface ConvertFlags {
  caffemodel?: string;
  pth?: string;
  prototxt: string;
  out: string;
  roisIn?: boolean;
  python?: string;
}

/** Debian's interpreter first: python3-torch/python3-onnx install there, not into pyenv or venv interpreters. */
export function defaultPython(): string {
  return process.env.VLKIT_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

function runPython(python: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-B', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new UsageError(`${python} not found: the converter needs Python 3 with PyTorch and ONNX (Debian: apt-get install python3-torch python3-onnx; or pass --python)`));
      else reject(err);
    });
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

export const registerConvertDetector: Register = (program: Command) => {
  subcommand(
    program,
    'convert-detector',
    'convert the bottom-up-attention Caffe (or PyTorch-port) Faster R-CNN into an ONNX detector for `vlkit extract`',
    'vlkit convert-detector --caffemodel resnet101_faster_rcnn_final_iter_320000.caffemodel --prototxt test.prototxt --out butd.onnx --rois-in',
  )
    .option('--caffemodel <file>', 'Caffe weights (binary NetParameter); or --pth')
    .option('--pth <file>', 'state dict of the MILVLG/bottom-up-attention.pytorch port (.pth, or .pkl of numpy arrays)')
    .requiredOption('--prototxt <file>', "the layer graph: BUTD's models/vg/ResNet-101/faster_rcnn_end2end_final/test.prototxt")
    .requiredOption('--out <file>', 'ONNX model to write (written to a temporary file, then renamed)')
    .option('--rois-in', 'add the optional rois_in input (given boxes replace the proposals; [0,5] keeps them), for --boxes-from')
    .option('--python <exe>', 'Python 3 with torch and onnx (default: $VLKIT_PYTHON, else /usr/bin/python3)')
    .action(
      action('convert-detector', async (flags: ConvertFlags) => {
        if (!flags.caffemodel === !flags.pth) throw new UsageError('give exactly one of --caffemodel and --pth');
        const args = [CONVERTER, flags.caffemodel ? '--caffemodel' : '--pth', (flags.caffemodel ?? flags.pth)!, '--prototxt', flags.prototxt, '--out', flags.out];
        if (flags.roisIn) args.push('--rois-in');
        const python = flags.python ?? defaultPython();
        const { code, stdout } = await runPython(python, args);
        // The converter reports its own errors on stderr (already passed through): 2 = bad input, else a bug.
        if (code === 2) return 2;
        if (code !== 0) throw new Error(`${python} ${CONVERTER} exited with code ${code}`);
        const summary = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
        const report = await checkDetectorContract(flags.out);
        process.stdout.write(`${JSON.stringify({ ...summary, contract: { shapes: report.shapes, hasAttributes: report.io.hasAttributes, hasRoisIn: report.io.hasRoisIn } })}\n`);
        return EXIT_OK;
      }),
    );
};
