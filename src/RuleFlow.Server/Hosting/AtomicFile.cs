using System.Text;

namespace RuleFlow.Server.Hosting;

/// <summary>Writes source files (rule files, workflow definitions) so that a reader or a crash never sees half of one.</summary>
public static class AtomicFile
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Replaces <paramref name="path"/> with <paramref name="text"/> (UTF-8, no BOM): written to a hidden temporary file in
    /// the same directory (<c>.NAME.GUID.tmp</c>), flushed to disk, then renamed over the target, so the file is either the
    /// old or the new text, also after a crash. The directory is created when missing; the temporary file is removed on
    /// failure.
    /// </summary>
    /// <param name="path">The full path of the file.</param>
    /// <param name="text">The new content.</param>
    /// <param name="cancellationToken">Cancels the write (the target is then unchanged).</param>
    /// <exception cref="IOException">The directory cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not write there.</exception>
    public static async Task WriteAllTextAsync(string path, string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true))
            {
                await stream.WriteAsync(Utf8NoBom.GetBytes(text), cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
