import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatRate, formatSmall } from '../../src/ui/format.ts';
import { ProgressMeter } from '../../src/ui/progress-meter.ts';

describe('formatting', () => {
  it('sizes in decimal units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1_199_272)).toBe('1.20 MB');
    expect(formatBytes(11_600_000)).toBe('11.6 MB');
    expect(formatBytes(9.7e9)).toBe('9.70 GB');
  });

  it('durations and rates', () => {
    expect(formatDuration(3.21)).toBe('3.2 s');
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(formatDuration(3723)).toBe('1 h 02 min');
    expect(formatDuration(undefined)).toBe('—');
    expect(formatRate(123.4)).toBe('123 MB/s');
    expect(formatRate(undefined)).toBe('—');
    expect(formatSmall(1.72e-5)).toBe('1.72e-5');
    expect(formatSmall(35.3)).toBe('35.3');
  });
});

describe('ProgressMeter', () => {
  it('measures the rate from the first tensor, not from the start of the job', () => {
    let t = 0;
    const meter = new ProgressMeter(() => t);
    t = 5000; // five seconds of inspection and worker start-up
    meter.update({ status: 'plan', tensors: 1, bytesTotal: 10e6, files: ['model.onnx'] });
    const tensor = {
      status: 'tensor' as const,
      name: 'w',
      index: 0,
      count: 1,
      bytesTotal: 10e6,
      tensorTotal: 10e6,
    };
    meter.update({ ...tensor, bytesDone: 0, tensorDone: 0 });
    t = 6000;
    const view = meter.update({ ...tensor, bytesDone: 5e6, tensorDone: 5e6 })!;
    expect(view.mbPerSecond).toBeCloseTo(5);
    expect(view.etaSeconds).toBeCloseTo(1);
    expect(view.elapsedSeconds).toBeCloseTo(6);
  });

  it('reports no rate until enough time has passed to mean something', () => {
    let t = 0;
    const meter = new ProgressMeter(() => t);
    const tensor = {
      status: 'tensor' as const,
      name: 'w',
      index: 0,
      count: 1,
      bytesTotal: 10,
      tensorTotal: 10,
    };
    meter.update({ ...tensor, bytesDone: 0, tensorDone: 0 });
    t = 10;
    expect(meter.update({ ...tensor, bytesDone: 5, tensorDone: 5 })?.mbPerSecond).toBeUndefined();
  });

  it('takes the final rate over the whole write, or from the engine when there was no tensor event', () => {
    let t = 0;
    const meter = new ProgressMeter(() => t);
    meter.update({ status: 'plan', tensors: 1, bytesTotal: 8e6, files: [] });
    meter.update({
      status: 'tensor',
      name: 'w',
      index: 0,
      count: 1,
      bytesDone: 8e6,
      bytesTotal: 8e6,
      tensorDone: 8e6,
      tensorTotal: 8e6,
    });
    t = 100;
    const view = meter.update({
      status: 'written',
      files: [{ name: 'model.onnx', bytes: 8e6 }],
      seconds: 2,
    })!;
    expect(view.stage).toBe('validating');
    expect(view.fraction).toBe(1);
    expect(view.mbPerSecond).toBeCloseTo(80);

    const quiet = new ProgressMeter(() => 0);
    expect(
      quiet.update({ status: 'written', files: [{ name: 'model.onnx', bytes: 8e6 }], seconds: 2 })
        ?.mbPerSecond,
    ).toBeCloseTo(4);
  });

  it('a folder of several models: fractions per model, the rate over every model’s writing, not the checks between', () => {
    let t = 0;
    const meter = new ProgressMeter(() => t);
    const write = (file: string, bytes: number, seconds: number) => {
      const planned = meter.update({ status: 'plan', tensors: 1, bytesTotal: bytes, files: [file] })!;
      const tensor = {
        status: 'tensor' as const,
        name: 'w',
        index: 0,
        count: 1,
        bytesTotal: bytes,
        tensorTotal: bytes,
      };
      meter.update({ ...tensor, bytesDone: 0, tensorDone: 0 });
      t += seconds * 1000;
      const view = meter.update({ ...tensor, bytesDone: bytes, tensorDone: bytes })!;
      const written = meter.update({ status: 'written', files: [{ name: file, bytes }], seconds })!;
      return { planned, view, written };
    };
    const first = write('onnx/model_q2.onnx', 10e6, 1);
    expect(first.view).toMatchObject({ file: 'onnx/model_q2.onnx', modelIndex: 0, fraction: 1 });
    t += 50_000; // the first model's runtime check
    const second = write('onnx/model_int8.onnx', 30e6, 1);
    expect(second.planned).toMatchObject({
      stage: 'writing',
      fraction: 0,
      file: 'onnx/model_int8.onnx',
      modelIndex: 1,
    });
    expect(second.written.mbPerSecond).toBeCloseTo(20);
  });
});
